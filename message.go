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

// Message is a stored chat message. Seq is its position in the room,
// contiguous from 1.
type Message struct {
	ID              string
	RoomID          string
	Seq             int64
	Sender          User
	Text            string
	ClientMessageID string
	CreateTime      time.Time
	Attachments     []File
}

// NewMessage is a message to store. Attachments are files of the same room,
// already checked by the caller; the store keeps them with the message.
type NewMessage struct {
	RoomID          string
	SenderID        string
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
