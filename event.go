package parley

import (
	"sync"
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

	mu      sync.Mutex
	encoded []encoding
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
// modify the returned slice.
func (e *Event) Encoded(format string, encode func() ([]byte, error)) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, enc := range e.encoded {
		if enc.format == format {
			return enc.data, nil
		}
	}
	data, err := encode()
	if err != nil {
		return nil, err
	}
	e.encoded = append(e.encoded, encoding{format, data})
	return data, nil
}

// Broker fans a room's events out to the subscribers of this process.
type Broker interface {
	// Subscribe starts queueing the room's events for a new subscriber.
	Subscribe(roomID string) Subscription
	// Publish hands e to every subscriber of e.RoomID without blocking.
	// Message events of a room must be published in seq order.
	Publish(e *Event)
}

// Subscription is one subscriber's bounded queue of events.
type Subscription interface {
	// Events delivers the room's events in publish order.
	Events() <-chan *Event
	// Overflowed is closed when the subscriber fell too far behind and was
	// dropped; no further events arrive after it is closed.
	Overflowed() <-chan struct{}
	// Close stops the subscription. It is safe to call more than once.
	Close()
}
