package inmem

import (
	"context"
	"sync"

	"github.com/parley-chat/parley"
)

var _ parley.RevocationBroker = (*Broker)(nil)

// revocationHandlers are the functions a Broker hands revocations to.
type revocationHandlers struct {
	mu       sync.RWMutex
	handlers map[*func(parley.Revocation)]struct{}
}

// Revoke implements parley.RevocationBroker: it calls this process's
// handlers before it returns, and never fails: there is no other process
// to reach. A broker
// that spans processes (postgres.Broker) calls it with what it hears from
// the others.
func (b *Broker) Revoke(_ context.Context, r parley.Revocation) error {
	b.revocations.mu.RLock()
	defer b.revocations.mu.RUnlock()
	for handle := range b.revocations.handlers {
		(*handle)(r)
	}
	return nil
}

// HandleRevocations implements parley.RevocationBroker.
func (b *Broker) HandleRevocations(handle func(parley.Revocation)) (stop func()) {
	key := &handle
	h := &b.revocations
	h.mu.Lock()
	if h.handlers == nil {
		h.handlers = make(map[*func(parley.Revocation)]struct{})
	}
	h.handlers[key] = struct{}{}
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		delete(h.handlers, key)
		h.mu.Unlock()
	}
}
