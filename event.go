package parley

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// EventKind says what happened in a room.
//
// The room log: the logged kinds (see Logged: messages sent, edited and
// deleted, members joined, left, added and removed) are stored with the
// room's next seq in the transaction that makes the change, so a room's
// logged events are numbered 1, 2, 3, ... across kinds, a subscriber
// replaying (since, head] gets all of them, and the PostgreSQL broker
// carries them across replicas. A room's creation is not a log event: the
// creator is a member from Room.CreateTime on (Room.CreatorID), so a room
// nobody joins numbers its messages 1..N. EventTyping and EventReadMarker
// are ephemeral (Seq 0).
type EventKind int

// The kinds of room events. The values are stable: engines store them.
const (
	// EventMessage: a message was stored. Message is the message (replayed
	// from the log in its latest form: edited text, or a tombstone).
	EventMessage EventKind = iota + 1
	// EventMemberJoined: User joined the room by themselves (Actor = User).
	EventMemberJoined
	// EventMemberLeft: User left the room by themselves (Actor = User).
	EventMemberLeft
	// EventTyping: User is typing (Chat only; never stored, Seq 0).
	EventTyping
	// EventMessageEdited: Actor (the sender) replaced the text of the
	// message at Message.Seq. Message carries the new text and EditTime.
	EventMessageEdited
	// EventMessageDeleted: Actor (the sender or the room's creator)
	// deleted the message at Message.Seq. Message is its tombstone: no
	// text, no attachments, DeleteTime set.
	EventMessageDeleted
	// EventMemberAdded: Actor made User a member.
	EventMemberAdded
	// EventMemberRemoved: Actor ended User's membership (room removal, a
	// revoked member). A stream of User on this room ends when it sees it.
	EventMemberRemoved
	// EventReadMarker: User read the room up to ReadSeq. Private: only
	// User's own streams get it; never stored in the log (Seq 0).
	EventReadMarker
)

// Logged reports whether events of kind k are stored in the room log and
// carry a seq.
func (k EventKind) Logged() bool {
	switch k {
	case EventMessage, EventMessageEdited, EventMessageDeleted,
		EventMemberJoined, EventMemberLeft, EventMemberAdded, EventMemberRemoved:
		return true
	}
	return false
}

// IsMember reports whether k is one of the membership kinds.
func (k EventKind) IsMember() bool {
	switch k {
	case EventMemberJoined, EventMemberLeft, EventMemberAdded, EventMemberRemoved:
		return true
	}
	return false
}

// MemberAddedKind is the kind logged when actorID makes userID a member:
// EventMemberJoined when they are the same user, else EventMemberAdded.
func MemberAddedKind(userID, actorID string) EventKind {
	if actorID == userID {
		return EventMemberJoined
	}
	return EventMemberAdded
}

// MemberRemovedKind is the kind logged when actorID ends userID's
// membership: EventMemberLeft when they are the same user, else
// EventMemberRemoved.
func MemberRemovedKind(userID, actorID string) EventKind {
	if actorID == userID {
		return EventMemberLeft
	}
	return EventMemberRemoved
}

// IsMessage reports whether k changes a message (sent, edited, deleted).
func (k EventKind) IsMessage() bool {
	return k == EventMessage || k == EventMessageEdited || k == EventMessageDeleted
}

// Event is something that happened in a room, fanned out to its
// subscribers. One *Event is shared by every subscriber and must not be
// modified once published.
type Event struct {
	Kind   EventKind
	RoomID string
	// Seq is the event's position in the room log (see EventKind), 0 for
	// ephemeral kinds. For EventMessage it equals Message.Seq; for an edit
	// or a delete it is the event's own seq, and Message.Seq says which
	// message changed.
	Seq     int64
	Message *Message  // for the message kinds
	User    User      // the member (member kinds), the typist, the reader
	Actor   User      // who made a member or message change
	Time    time.Time // when it happened
	ReadSeq int64     // for EventReadMarker
	// Published is when this process handed the event to its broker (set
	// by the publisher just before Broker.Publish, for delivery latency);
	// zero for events read from the room log.
	Published time.Time

	mu      sync.Mutex                 // serializes encoders
	encoded atomic.Pointer[[]encoding] // read without the lock; replaced, never modified
}

type encoding struct {
	format string
	data   []byte
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
	//   - a room's logged events (EventKind.Logged) are published as the
	//     store calls its publish functions, nearly always in increasing
	//     seq order; a seq may be missing (stored by another process) or,
	//     rarely, late. A feed skips what it already delivered and fills a
	//     hole from the store's log. Ephemeral kinds carry no seq and may
	//     come in between;
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
