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
	closed    bool
	events    chan *parley.Event // Events' channel, made on its first call
	done      chan struct{}      // closed by Close once Events was called

	closeOnce  sync.Once
	eventsOnce sync.Once
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

// Events implements parley.Subscription with a goroutine, started on the
// first call and ended by Close, that moves drained events onto an
// unbuffered channel; it drains again only once the reader took the whole
// previous batch, so the backlog stays bounded by the queue size.
func (s *subscription) Events() <-chan *parley.Event {
	s.eventsOnce.Do(func() {
		s.mu.Lock()
		s.events = make(chan *parley.Event)
		s.done = make(chan struct{})
		if s.closed {
			close(s.done)
		}
		s.mu.Unlock()
		go s.pump()
	})
	return s.events
}

func (s *subscription) pump() {
	var batch []*parley.Event
	for {
		select {
		case <-s.ready:
		case <-s.done:
			return
		}
		batch = s.Drain(batch[:0])
		for i, e := range batch {
			select {
			case s.events <- e:
				batch[i] = nil
			case <-s.done:
				return
			}
		}
	}
}

func (s *subscription) Overflowed() <-chan struct{} { return s.overflowed }

func (s *subscription) Close() {
	s.closeOnce.Do(func() {
		s.broker.remove(s)
		s.mu.Lock()
		s.stopped, s.closed = true, true
		s.queue = nil
		if s.done != nil {
			close(s.done)
		}
		s.mu.Unlock()
	})
}
