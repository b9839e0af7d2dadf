package inmem

import (
	"sync"

	"github.com/parley-chat/parley"
)

// Queue capacities: a subscriber's queue starts at firstCap when the first
// event arrives and grows by appending up to the Broker's queue size; a
// drained queue larger than keepCap is released, so that a subscriber that
// went idle after a burst holds at most keepCap pointers again.
const (
	firstCap = 8
	keepCap  = 16
)

// subscription is one subscriber's queue: a slice guarded by a mutex that
// grows on demand, and a one-slot channel that wakes the reader when the
// queue turns non-empty.
type subscription struct {
	broker     *Broker
	roomID     string
	limit      int
	ready      chan struct{} // buffer of one: "something was queued"
	overflowed chan struct{}

	mu        sync.Mutex
	queue     []*parley.Event
	handedOut int  // events returned by the last Drain: still counted against limit
	stopped   bool // overflowed or closed: nothing more is queued

	closeOnce sync.Once
}

// offer queues e, or drops the subscriber when its backlog (queued plus
// handed out by the last Drain) reaches the limit. Publishers may call it
// concurrently.
func (s *subscription) offer(e *parley.Event) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	if len(s.queue)+s.handedOut >= s.limit {
		s.stopped = true
		s.mu.Unlock()
		close(s.overflowed)
		go s.Close() // leave the room now; Publish holds the read lock
		return
	}
	if s.queue == nil {
		s.queue = make([]*parley.Event, 0, min(firstCap, s.limit))
	}
	s.queue = append(s.queue, e)
	wake := len(s.queue) == 1
	s.mu.Unlock()
	if wake {
		select {
		case s.ready <- struct{}{}:
		default: // the reader has a wake-up pending already
		}
	}
}

func (s *subscription) Ready() <-chan struct{} { return s.ready }

func (s *subscription) Drain(dst []*parley.Event) []*parley.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	dst = append(dst, s.queue...)
	s.handedOut = len(s.queue)
	if cap(s.queue) > keepCap {
		s.queue = nil
	} else {
		clear(s.queue)
		s.queue = s.queue[:0]
	}
	return dst
}

func (s *subscription) Overflowed() <-chan struct{} { return s.overflowed }

func (s *subscription) Close() {
	s.closeOnce.Do(func() {
		s.broker.remove(s)
		s.mu.Lock()
		s.stopped = true
		s.queue = nil
		s.mu.Unlock()
	})
}
