package parley

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// EventKind says what happened in a room.
type EventKind int

// The kinds of room events.
const (
	EventMessage      EventKind = iota + 1 // a message was stored
	EventMemberJoined                      // a user joined or was added
	EventMemberLeft                        // a user left
	EventTyping                            // a user is typing (Chat only; never stored)
)

// Event is something that happened in a room, fanned out to its
// subscribers. One *Event is shared by every subscriber and must not be
// modified once published.
type Event struct {
	Kind    EventKind
	RoomID  string
	Message *Message  // for EventMessage
	User    User      // for member and typing events
	Time    time.Time // for member and typing events

	mu      sync.Mutex                 // serializes encoders
	encoded atomic.Pointer[[]encoding] // read without the lock; replaced, never modified
}

type encoding struct {
	format string
	data   []byte
}

// Seq returns the message seq of an EventMessage and 0 for other kinds.
func (e *Event) Seq() int64 {
	if e.Kind == EventMessage && e.Message != nil {
		return e.Message.Seq
	}
	return 0
}

// Encoded returns the event encoded in format, calling encode only the first
// time a format is asked for, so that fan-out encodes each event once per
// wire format and every subscriber shares the bytes. Callers must not
// modify the returned slice. Once a format is encoded, every later call
// is a lock-free read: thousands of subscribers ask for the same event at
// the same moment.
func (e *Event) Encoded(format string, encode func() ([]byte, error)) ([]byte, error) {
	if data, ok := e.lookup(format); ok {
		return data, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if data, ok := e.lookup(format); ok {
		return data, nil
	}
	data, err := encode()
	if err != nil {
		return nil, err
	}
	var next []encoding
	if old := e.encoded.Load(); old != nil {
		next = append(next, *old...)
	}
	next = append(next, encoding{format, data})
	e.encoded.Store(&next)
	return data, nil
}

func (e *Event) lookup(format string) ([]byte, bool) {
	if encs := e.encoded.Load(); encs != nil {
		for _, enc := range *encs {
			if enc.format == format {
				return enc.data, true
			}
		}
	}
	return nil, false
}

// Broker fans a room's events out to the subscribers of this process.
type Broker interface {
	// Subscribe starts queueing the room's events for a new subscriber and
	// returns its Subscription. ctx bounds only the subscribing itself
	// (a database round trip, for a broker that needs one): the
	// subscription outlives ctx and lasts until its Close.
	//
	// On error there is no subscription to close. The error is ctx.Err()
	// if ctx ended first, and carries EUNAVAILABLE if something the broker
	// depends on (its database) could not be reached.
	Subscribe(ctx context.Context, roomID string) (Subscription, error)
	// Publish hands e to every subscriber of e.RoomID. It may be called
	// from several goroutines at once, and from the one that commits every
	// room's appends (the publish function of MessageStore.AppendMessage),
	// where a slow Publish holds up everyone's commits. So:
	//
	//   - it never blocks: a subscriber that falls too far behind is
	//     dropped (see Subscription.Overflowed), never waited for;
	//   - it must not call the Store, nor anything that waits on it;
	//   - a room's message events are published in increasing seq order,
	//     as AppendMessage calls its publish; a seq may be missing (stored
	//     by another process), never repeated or out of order. Other kinds
	//     carry no seq and may come in between;
	//   - one *Event goes to every subscriber, who share it: neither the
	//     caller, nor the broker, nor a subscriber modifies it once it is
	//     published (Event.Encoded is how they share its encodings).
	Publish(e *Event)
}

// Subscription is one subscriber's bounded queue of events. A reader waits
// on Ready and takes everything queued with Drain: several events at once,
// so it can write them out with one flush.
type Subscription interface {
	// Ready receives a value after events were queued; it may also wake
	// a reader that finds nothing to Drain.
	Ready() <-chan struct{}
	// Drain appends the queued events to dst in publish order, removes
	// them from the queue and returns dst. It never blocks.
	Drain(dst []*Event) []*Event
	// Overflowed is closed when the subscriber fell too far behind and was
	// dropped; no further events are queued after it is closed.
	Overflowed() <-chan struct{}
	// Close stops the subscription. It is safe to call more than once.
	Close()
}
