package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parley-chat/parley"
)

// CreateUser stores a new user with the given password hash, stamped with
// the Store's clock. ECONFLICT if the username is taken; usernames compare
// case-sensitively (parley.ValidateUsername allows only lowercase).
func (s *Store) CreateUser(ctx context.Context, username string, passwordHash []byte) (parley.User, error) {
	created, n := s.stamp()
	u := parley.User{ID: newID("u_"), Username: username, CreateTime: created}
	_, err := s.write.ExecContext(ctx,
		`INSERT INTO users (id, username, password_hash, create_time) VALUES (?, ?, ?, ?)`,
		u.ID, u.Username, passwordHash, n)
	switch {
	case isUnique(err):
		return parley.User{}, parley.Errorf(parley.ECONFLICT, "username already taken")
	case err != nil:
		return parley.User{}, fmt.Errorf("insert user: %w", err)
	}
	return u, nil
}

// UserByUsername returns the user and their password hash. ENOTFOUND if none.
func (s *Store) UserByUsername(ctx context.Context, username string) (parley.User, []byte, error) {
	var (
		u    parley.User
		hash []byte
		n    int64
	)
	err := s.read.QueryRowContext(ctx,
		`SELECT id, username, password_hash, create_time FROM users WHERE username = ?`,
		username).Scan(&u.ID, &u.Username, &hash, &n)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return parley.User{}, nil, parley.Errorf(parley.ENOTFOUND, "user not found")
	case err != nil:
		return parley.User{}, nil, fmt.Errorf("select user by username: %w", err)
	}
	u.CreateTime = fromNanos(n)
	return u, hash, nil
}

// UserByID returns a user. ENOTFOUND if none.
func (s *Store) UserByID(ctx context.Context, id string) (parley.User, error) {
	return userByID(ctx, s.read, id)
}

func userByID(ctx context.Context, q querier, id string) (parley.User, error) {
	var (
		u parley.User
		n int64
	)
	err := q.QueryRowContext(ctx,
		`SELECT id, username, create_time FROM users WHERE id = ?`, id).Scan(&u.ID, &u.Username, &n)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return parley.User{}, parley.Errorf(parley.ENOTFOUND, "user not found")
	case err != nil:
		return parley.User{}, fmt.Errorf("select user: %w", err)
	}
	u.CreateTime = fromNanos(n)
	return u, nil
}

// CreateSession stores a session. A zero sess.CreateTime is set from the
// Store's clock. ENOTFOUND if the user does not exist, ECONFLICT if a session
// with the same token hash does.
func (s *Store) CreateSession(ctx context.Context, sess parley.Session) error {
	created := sess.CreateTime
	if created.IsZero() {
		created = s.now()
	}
	_, err := s.write.ExecContext(ctx,
		`INSERT INTO sessions (token_hash, user_id, create_time, expire_time) VALUES (?, ?, ?, ?)`,
		sess.TokenHash, sess.UserID, nanos(created), nanos(sess.ExpireTime))
	if err = insertErr(err, "insert session", "session already exists"); err != nil {
		return err
	}
	return nil
}

// SessionUser returns the session with the token hash and its user if the
// session expires after now. EUNAUTHORIZED otherwise.
func (s *Store) SessionUser(ctx context.Context, tokenHash []byte, now time.Time) (parley.Session, parley.User, error) {
	var (
		sess                      parley.Session
		u                         parley.User
		created, expires, userNow int64
	)
	err := s.read.QueryRowContext(ctx, `
		SELECT s.token_hash, s.create_time, s.expire_time, u.id, u.username, u.create_time
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = ? AND s.expire_time > ?`,
		tokenHash, nanos(now)).Scan(&sess.TokenHash, &created, &expires, &u.ID, &u.Username, &userNow)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return parley.Session{}, parley.User{}, parley.Errorf(parley.EUNAUTHORIZED, "invalid or expired token")
	case err != nil:
		return parley.Session{}, parley.User{}, fmt.Errorf("select session: %w", err)
	}
	sess.UserID = u.ID
	sess.CreateTime = fromNanos(created)
	sess.ExpireTime = fromNanos(expires)
	u.CreateTime = fromNanos(userNow)
	return sess, u, nil
}

// ExtendSession moves a session's expiry to expire. ENOTFOUND if there is
// no such session.
func (s *Store) ExtendSession(ctx context.Context, tokenHash []byte, expire time.Time) error {
	n, err := execCount(ctx, s.write, "extend session", `UPDATE sessions SET expire_time = ? WHERE token_hash = ?`, nanos(expire), tokenHash)
	if err == nil && n == 0 {
		return parley.Errorf(parley.ENOTFOUND, "session not found")
	}
	return err
}

// DeleteSession revokes a session. Deleting a missing session is not an error.
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) error {
	if _, err := s.write.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}
