package inmem

import (
	"context"
	"sync"

	"github.com/parley-chat/parley"
)

// DefaultQueueSize is the number of events a subscriber may fall behind
// before it is dropped. The queue is not allocated up front: it grows
// with the backlog and shrinks back once drained.
const DefaultQueueSize = 1024

var _ parley.Broker = (*Broker)(nil)

// Broker is an in-process parley.Broker and parley.RevocationBroker.
// Publish never blocks: a subscriber whose queue is full is dropped (its
// Overflowed channel closes) so that one slow reader cannot hold up a room.
type Broker struct {
	queueSize int

	mu    sync.RWMutex
	rooms map[string]map[*subscription]struct{}

	revocations revocationHandlers // revocation.go
}

// Option configures a Broker.
type Option func(*Broker)

// WithQueueSize sets how many events a subscriber may fall behind before it
// is dropped. By default, DefaultQueueSize.
func WithQueueSize(n int) Option {
	return func(b *Broker) {
		if n > 0 {
			b.queueSize = n
		}
	}
}

// NewBroker returns an empty Broker.
func NewBroker(opts ...Option) *Broker {
	b := &Broker{queueSize: DefaultQueueSize, rooms: make(map[string]map[*subscription]struct{})}
	for _, opt := range opts {
		opt(b)
	}
	return b
}

// Subscribe implements parley.Broker. It fails only if ctx has ended. The
// queue starts empty and grows as events arrive, so an idle subscriber
// holds a few hundred bytes, not a full queue (see WithQueueSize).
func (b *Broker) Subscribe(ctx context.Context, roomID string) (parley.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &subscription{
		broker:     b,
		roomID:     roomID,
		limit:      b.queueSize,
		ready:      make(chan struct{}, 1),
		overflowed: make(chan struct{}),
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	subs := b.rooms[roomID]
	if subs == nil {
		subs = make(map[*subscription]struct{})
		b.rooms[roomID] = subs
	}
	subs[s] = struct{}{}
	return s, nil
}

// Publish implements parley.Broker.
func (b *Broker) Publish(e *parley.Event) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.rooms[e.RoomID] {
		s.offer(e)
	}
}

// Subscribers returns the number of live subscriptions of a room.
func (b *Broker) Subscribers(roomID string) int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.rooms[roomID])
}

func (b *Broker) remove(s *subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	subs := b.rooms[s.roomID]
	delete(subs, s)
	if len(subs) == 0 {
		delete(b.rooms, s.roomID)
	}
}
