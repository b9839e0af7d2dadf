package parley

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on messages.
const (
	MessageTextMaxLen     = 4000 // code points
	ClientMessageIDMaxLen = 64
	DefaultHistoryLimit   = 100
	MaxHistoryLimit       = 500
)

// DefaultEditWindow is how long after sending a sender may edit a message,
// unless the server is configured otherwise.
const DefaultEditWindow = 24 * time.Hour

// Message is a stored chat message in its latest form. Seq is the position
// of its EventMessage in the room log (see EventKind): increasing, shared
// with the room's other logged events. EditTime is zero unless it was
// edited; a deleted message is a tombstone: DeleteTime set, Text and
// Attachments gone from storage.
type Message struct {
	ID              string
	RoomID          string
	Seq             int64
	Sender          User
	Text            string
	ClientMessageID string
	CreateTime      time.Time
	Attachments     []File
	EditTime        time.Time
	DeleteTime      time.Time
}

// Deleted reports whether m is a tombstone.
func (m Message) Deleted() bool { return !m.DeleteTime.IsZero() }

// MessageEdit replaces the text of the message at Seq in RoomID. The
// store does not check who may edit: that is the caller's decision.
type MessageEdit struct {
	RoomID   string
	Seq      int64
	EditorID string
	Text     string
}

// NewMessage is a message to store. Attachments are files of the same room,
// already checked by the caller; the store keeps them with the message.
//
// Sender, if its ID is SenderID, is the sender as the caller already has
// them (the server, from the session it checked): the store returns it as
// the message's sender rather than reading the user. Users never change,
// so the two agree. The store still fails if no user has SenderID.
type NewMessage struct {
	RoomID          string
	SenderID        string
	Sender          User
	Text            string
	ClientMessageID string
	Attachments     []File
}

// HistoryQuery selects a window of a room's messages, ascending by seq:
// with Forward (implied by AfterSeq > 0) the messages after AfterSeq; with
// BeforeSeq the newest before it; with neither the newest. A Limit of 0 or
// less means DefaultHistoryLimit.
type HistoryQuery struct {
	Forward   bool
	AfterSeq  int64
	BeforeSeq int64
	Limit     int
}

// IsForward reports whether q reads forward from AfterSeq.
func (q HistoryQuery) IsForward() bool { return q.Forward || q.AfterSeq > 0 }

// MessageStore keeps messages.
type MessageStore interface {
	// AppendMessage stores m with the room's next seq, in one transaction,
	// and returns it once committed. If the sender already stored a message
	// with the same ClientMessageID, it returns that one with created false.
	//
	// publish, if not nil, is called with the message if it is new, after
	// commit and before AppendMessage returns, so that one process
	// publishes each room's messages in seq order without the caller
	// holding a lock across the commit. An engine may call it from the
	// goroutine that commits everyone's appends, so it is held to the
	// contract of Broker.Publish.
	AppendMessage(ctx context.Context, m NewMessage, publish func(*Message)) (msg Message, created bool, err error)
	// ListMessages returns messages of a room ascending by seq (see
	// HistoryQuery) and the room's head seq.
	ListMessages(ctx context.Context, roomID string, q HistoryQuery) ([]Message, int64, error)
	// MessageBySeq returns the message whose EventMessage has seq, in its
	// latest form. ENOTFOUND if there is none (also when seq is another
	// kind's).
	MessageBySeq(ctx context.Context, roomID string, seq int64) (Message, error)
	// EditMessage stores an EventMessageEdited with the room's next seq
	// and the message's new text, in one transaction, and returns the
	// event. If the text is already e.Text it stores nothing and returns
	// created false with the message (a retry). ENOTFOUND if no message
	// has e.Seq; EPRECONDITION if it was deleted. publish, if not nil, is
	// called with a new event after commit (the contract of AppendMessage).
	EditMessage(ctx context.Context, e MessageEdit, publish func(*Event)) (ev *Event, created bool, err error)
	// DeleteMessage stores an EventMessageDeleted with the room's next
	// seq, by actorID, and removes the message's text and attachments from
	// storage (also from its edit events), in one transaction. Deleting a
	// deleted message stores nothing and returns created false (a retry).
	// ENOTFOUND if no message has seq.
	DeleteMessage(ctx context.Context, roomID string, seq int64, actorID string, publish func(*Event)) (ev *Event, created bool, err error)
	// ListEvents returns up to limit logged events of a room with seq >
	// after, ascending, and the room's head seq, read from one snapshot.
	// Message events carry the message in its latest form. By default,
	// that is when limit is not positive, DefaultHistoryLimit. ENOTFOUND if
	// the room does not exist.
	ListEvents(ctx context.Context, roomID string, after int64, limit int) ([]*Event, int64, error)
}

// Store is everything a storage engine provides.
type Store interface {
	UserStore
	RoomStore
	MessageStore
	// Ping reports whether the storage is reachable.
	Ping(ctx context.Context) error
	// Close releases the engine's resources.
	Close() error
}

// ValidateMessageText reports what is wrong with a message text: valid
// UTF-8, at most 4,000 code points, and not only whitespace unless the
// message has attachments (then it may be empty).
func ValidateMessageText(field, s string, attachments int) []FieldViolation {
	switch {
	case !utf8.ValidString(s):
		return []FieldViolation{{field, "must be valid UTF-8"}}
	case s == "" && attachments > 0:
		return nil
	case strings.TrimSpace(s) == "":
		return []FieldViolation{{field, "is required"}}
	case utf8.RuneCountInString(s) > MessageTextMaxLen:
		return []FieldViolation{{field, "must be at most 4000 characters"}}
	}
	return nil
}

// ValidateClientMessageID reports what is wrong with a client message id:
// 1 to 64 printable ASCII characters.
func ValidateClientMessageID(field, s string) []FieldViolation {
	switch {
	case s == "":
		return []FieldViolation{{field, "is required so that retries are safe"}}
	case len(s) > ClientMessageIDMaxLen:
		return []FieldViolation{{field, "must be at most 64 characters"}}
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return []FieldViolation{{field, "must be printable ASCII without spaces"}}
		}
	}
	return nil
}

// ValidateHistoryQuery checks q and returns it with defaults applied.
func ValidateHistoryQuery(q HistoryQuery) (HistoryQuery, []FieldViolation) {
	var v []FieldViolation
	if q.AfterSeq < 0 {
		v = append(v, FieldViolation{"after_seq", "must not be negative"})
	}
	if q.BeforeSeq < 0 {
		v = append(v, FieldViolation{"before_seq", "must not be negative"})
	}
	if q.IsForward() && q.BeforeSeq > 0 {
		v = append(v, FieldViolation{"before_seq", "must not be set together with after_seq"})
	}
	switch {
	case q.Limit < 0:
		v = append(v, FieldViolation{"limit", "must not be negative"})
	case q.Limit > MaxHistoryLimit:
		v = append(v, FieldViolation{"limit", "must be at most 500"})
	case q.Limit == 0:
		q.Limit = DefaultHistoryLimit
	}
	return q, v
}
