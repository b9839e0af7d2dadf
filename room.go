package parley

import (
	"context"
	"time"
)

// Limits on rooms and listings.
const (
	RoomNameMaxLen  = 64
	DefaultPageSize = 50
	MaxPageSize     = 100
)

// Visibility says who can see and join a room.
type Visibility int

// Room visibilities.
const (
	Public Visibility = iota + 1
	Private
)

// String returns "public" or "private", the words storage engines keep,
// and "" for an unknown value.
func (v Visibility) String() string {
	switch v {
	case Public:
		return "public"
	case Private:
		return "private"
	}
	return ""
}

// MarshalText implements encoding.TextMarshaler. EINVALID for an unknown
// value.
func (v Visibility) MarshalText() ([]byte, error) {
	if s := v.String(); s != "" {
		return []byte(s), nil
	}
	return nil, Invalid([]FieldViolation{{"visibility", "must be public or private"}})
}

// UnmarshalText implements encoding.TextUnmarshaler. EINVALID for a word
// other than "public" and "private".
func (v *Visibility) UnmarshalText(text []byte) error {
	for _, c := range []Visibility{Public, Private} {
		if string(text) == c.String() {
			*v = c
			return nil
		}
	}
	return Invalid([]FieldViolation{{"visibility", "must be public or private"}})
}

// Room is a place where members post messages.
type Room struct {
	ID         string
	Name       string
	Visibility Visibility
	CreatorID  string
	CreateTime time.Time
	HeadSeq    int64 // seq of the newest logged event when read; 0 if none
	// ReadSeq and Unread are the caller's: their read marker and how many
	// messages others sent after it that are not deleted. Zero unless the
	// room was read for a user (ReadStates).
	ReadSeq int64
	Unread  int64
}

// ReadState is a user's read marker in a room and the unread count after it.
type ReadState struct {
	ReadSeq int64
	Unread  int64
}

// Member is a user's membership of a room.
type Member struct {
	RoomID   string
	User     User
	JoinTime time.Time
}

// RoomStore keeps rooms and memberships.
type RoomStore interface {
	// CreateRoom stores a room and makes its creator a member, atomically.
	// ECONFLICT if the name is taken; names compare case-sensitively, so
	// "Go" and "go" are two rooms.
	CreateRoom(ctx context.Context, name string, v Visibility, creatorID string) (Room, error)
	// RoomByID returns a room. ENOTFOUND if none.
	RoomByID(ctx context.Context, id string) (Room, error)
	// ListRooms returns up to limit rooms visible to userID (public ones and
	// those userID is a member of) whose name sorts after afterName, by name.
	ListRooms(ctx context.Context, userID, afterName string, limit int) ([]Room, error)
	// AddMember makes userID a member of roomID and logs it, in one
	// transaction: EventMemberJoined if actorID is userID, else
	// EventMemberAdded. publish, if not nil, is called with the event after
	// commit (the contract of AppendMessage). ECONFLICT if already one.
	AddMember(ctx context.Context, roomID, userID, actorID string, publish func(*Event)) (Member, error)
	// RemoveMember ends a membership and logs it, in one transaction:
	// EventMemberLeft if actorID is userID, else EventMemberRemoved;
	// publish as for AddMember. ENOTFOUND if there was none.
	RemoveMember(ctx context.Context, roomID, userID, actorID string, publish func(*Event)) error
	// MarkRead moves userID's read marker in roomID forward to seq (a
	// lower seq changes nothing) and returns the marker as it is after.
	// ENOTFOUND if the room does not exist.
	MarkRead(ctx context.Context, roomID, userID string, seq int64) (int64, error)
	// ReadStates returns userID's read state in each of roomIDs that exist:
	// the marker (0 if never set) and the messages after it, sent by
	// others and not deleted (0 where userID is not a member).
	ReadStates(ctx context.Context, userID string, roomIDs []string) (map[string]ReadState, error)
	// IsMember reports whether userID is a member of roomID.
	IsMember(ctx context.Context, roomID, userID string) (bool, error)
	// ListMembers returns up to limit members of roomID whose username sorts
	// after afterUsername, by username.
	ListMembers(ctx context.Context, roomID, afterUsername string, limit int) ([]Member, error)
}

// ValidateRoomName reports what is wrong with a room name, if anything:
// 1 to 64 characters of ASCII letters, digits, '.', '_' and '-'.
func ValidateRoomName(field, s string) []FieldViolation {
	switch {
	case s == "":
		return []FieldViolation{{field, "is required"}}
	case len(s) > RoomNameMaxLen:
		return []FieldViolation{{field, "must be at most 64 characters"}}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isLowerAlnum(c) && !(c >= 'A' && c <= 'Z') && c != '.' && c != '_' && c != '-' {
			return []FieldViolation{{field, "may contain only letters, digits, '.', '_' and '-'"}}
		}
	}
	return nil
}

// ValidatePageSize reports what is wrong with a page size and returns the
// size to use: 0 means DefaultPageSize, the maximum is MaxPageSize.
func ValidatePageSize(field string, n int32) (int, []FieldViolation) {
	switch {
	case n < 0:
		return 0, []FieldViolation{{field, "must not be negative"}}
	case n > MaxPageSize:
		return 0, []FieldViolation{{field, "must be at most 100"}}
	case n == 0:
		return DefaultPageSize, nil
	}
	return int(n), nil
}
