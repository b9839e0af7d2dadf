package parley

import (
	"context"
	"fmt"
	"time"
)

// Limits on account fields.
const (
	UsernameMinLen = 3
	UsernameMaxLen = 32
	PasswordMinLen = 8
	PasswordMaxLen = 128
)

// User is an account.
type User struct {
	ID         string
	Username   string
	CreateTime time.Time
}

// Session is a bearer token as stored: only its hash is kept.
type Session struct {
	TokenHash  []byte
	UserID     string
	CreateTime time.Time
	ExpireTime time.Time
}

// UserStore keeps accounts and sessions.
type UserStore interface {
	// CreateUser stores a new user with the given password hash.
	// ECONFLICT if the username is taken.
	CreateUser(ctx context.Context, username string, passwordHash []byte) (User, error)
	// UserByUsername returns the user and their password hash. ENOTFOUND if none.
	UserByUsername(ctx context.Context, username string) (User, []byte, error)
	// UserByID returns a user. ENOTFOUND if none.
	UserByID(ctx context.Context, id string) (User, error)
	// CreateSession stores a session.
	CreateSession(ctx context.Context, s Session) error
	// SessionUser returns the session with the token hash and its user, if the
	// session exists and has not expired at now. EUNAUTHORIZED otherwise.
	SessionUser(ctx context.Context, tokenHash []byte, now time.Time) (Session, User, error)
	// ExtendSession moves a session's expiry to expire, in one write: the
	// session stays valid throughout. ENOTFOUND if there is no such session.
	ExtendSession(ctx context.Context, tokenHash []byte, expire time.Time) error
	// DeleteSession revokes a session. Deleting a missing session is not an error.
	DeleteSession(ctx context.Context, tokenHash []byte) error
}

// ValidateUsername reports what is wrong with a username, if anything.
// Usernames are 3 to 32 characters of lowercase letters, digits, '.', '_'
// and '-', starting with a letter or digit.
func ValidateUsername(field, s string) []FieldViolation {
	if v := lengthViolation(field, len(s), UsernameMinLen, UsernameMaxLen, "characters"); v != nil {
		return v
	}
	if !isLowerAlnum(s[0]) {
		return []FieldViolation{{field, "must start with a lowercase letter or digit"}}
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLowerAlnum(c) && c != '.' && c != '_' && c != '-' {
			return []FieldViolation{{field, "may contain only a-z, 0-9, '.', '_' and '-'"}}
		}
	}
	return nil
}

// ValidatePassword reports what is wrong with a new password, if anything:
// 8 to 128 bytes.
func ValidatePassword(field, s string) []FieldViolation {
	return lengthViolation(field, len(s), PasswordMinLen, PasswordMaxLen, "bytes")
}

// lengthViolation reports a length n outside minLen to maxLen, counted in
// unit ("characters", "bytes"), as "must be at least|most N unit"; nil if
// n is within bounds.
func lengthViolation(field string, n, minLen, maxLen int, unit string) []FieldViolation {
	switch {
	case n < minLen:
		return []FieldViolation{{field, fmt.Sprintf("must be at least %d %s", minLen, unit)}}
	case n > maxLen:
		return []FieldViolation{{field, fmt.Sprintf("must be at most %d %s", maxLen, unit)}}
	}
	return nil
}

func isLowerAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}
