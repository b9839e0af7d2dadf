package server_test

import (
	"context"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/inmem"
	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/server"
	"github.com/parley-chat/parley/sqlite"
)

// flakyStore is a store whose Ping fails while down is set.
type flakyStore struct {
	*sqlite.Store
	down atomic.Bool
}

func (s *flakyStore) Ping(ctx context.Context) error {
	if s.down.Load() {
		return parley.Errorf(parley.EUNAVAILABLE, "database unavailable")
	}
	return s.Store.Ping(ctx)
}

// TestWatchStoreFlipsHealth checks that health follows the store's pings,
// and that Drain's NOT_SERVING is final.
func TestWatchStoreFlipsHealth(t *testing.T) {
	t.Parallel()
	store := &flakyStore{Store: testserver.OpenStore(t)}
	h := server.New(store, inmem.NewBroker())
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	go h.WatchStore(t.Context(), 10*time.Millisecond)

	health := grpchealth.NewClient(srv.Client(), srv.URL, connect.WithGRPCWeb())
	wait := func(service string, want grpchealth.Status) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			res, err := health.Check(t.Context(), &grpchealth.CheckRequest{Service: service})
			if err == nil && res.Status == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("health of %q: %v, %v; want %v", service, res, err, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	wait("", grpchealth.StatusServing)
	store.down.Store(true)
	wait("", grpchealth.StatusNotServing)
	wait("parley.v1.MessageService", grpchealth.StatusNotServing)
	store.down.Store(false)
	wait("", grpchealth.StatusServing)
	wait("parley.v1.MessageService", grpchealth.StatusServing)

	h.Drain()
	store.down.Store(true)
	time.Sleep(50 * time.Millisecond)
	store.down.Store(false)
	time.Sleep(50 * time.Millisecond)
	wait("", grpchealth.StatusNotServing)
}
