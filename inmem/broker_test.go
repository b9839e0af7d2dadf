package inmem_test

import (
	"testing"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/inmem"
	"github.com/parley-chat/parley/internal/storetest"
)

var _ interface{ Subscribers(string) int } = (*inmem.Broker)(nil) // counted by the suite

func TestBroker(t *testing.T) {
	t.Parallel()
	storetest.RunBroker(t, func(_ *testing.T, queueSize int) parley.Broker {
		return inmem.NewBroker(inmem.WithQueueSize(queueSize))
	})
}
