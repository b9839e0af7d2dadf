package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley"
)

// CreateUser stores a new user with the given password hash, stamped with
// the Store's clock. ECONFLICT if the username is taken; usernames compare
// case-sensitively (parley.ValidateUsername allows only lowercase).
func (s *Store) CreateUser(ctx context.Context, username string, passwordHash []byte) (parley.User, error) {
	u := parley.User{ID: newID("u_"), Username: username, CreateTime: s.stamp()}
	_, err := s.pool.Exec(ctx,
		`INSERT INTO users (id, username, password_hash, create_time) VALUES ($1, $2, $3, $4)`,
		u.ID, u.Username, passwordHash, u.CreateTime)
	switch {
	case isUnique(err):
		return parley.User{}, parley.Errorf(parley.ECONFLICT, "username already taken")
	case err != nil:
		return parley.User{}, wrap("insert user", err)
	}
	return u, nil
}

// UserByUsername returns the user and their password hash. ENOTFOUND if none.
func (s *Store) UserByUsername(ctx context.Context, username string) (parley.User, []byte, error) {
	var (
		u    parley.User
		hash []byte
	)
	err := s.pool.QueryRow(ctx,
		`SELECT id, username, password_hash, create_time FROM users WHERE username = $1`,
		username).Scan(&u.ID, &u.Username, &hash, &u.CreateTime)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return parley.User{}, nil, parley.Errorf(parley.ENOTFOUND, "user not found")
	case err != nil:
		return parley.User{}, nil, wrap("select user by username", err)
	}
	u.CreateTime = u.CreateTime.UTC()
	return u, hash, nil
}

// UserByID returns a user. ENOTFOUND if none.
func (s *Store) UserByID(ctx context.Context, id string) (parley.User, error) {
	return userByID(ctx, s.pool, id)
}

// querier is what reads need, from the pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func userByID(ctx context.Context, q querier, id string) (parley.User, error) {
	var u parley.User
	err := q.QueryRow(ctx,
		`SELECT id, username, create_time FROM users WHERE id = $1`, id).Scan(&u.ID, &u.Username, &u.CreateTime)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return parley.User{}, parley.Errorf(parley.ENOTFOUND, "user not found")
	case err != nil:
		return parley.User{}, wrap("select user", err)
	}
	u.CreateTime = u.CreateTime.UTC()
	return u, nil
}

// CreateSession stores a session. A zero sess.CreateTime is set from the
// Store's clock. ENOTFOUND if the user does not exist, ECONFLICT if a session
// with the same token hash does.
func (s *Store) CreateSession(ctx context.Context, sess parley.Session) error {
	created := sess.CreateTime
	if created.IsZero() {
		created = s.stamp()
	}
	_, err := s.pool.Exec(ctx,
		`INSERT INTO sessions (token_hash, user_id, create_time, expire_time) VALUES ($1, $2, $3, $4)`,
		sess.TokenHash, sess.UserID, created, sess.ExpireTime)
	if err = insertErr(err, "insert session", "session already exists"); err != nil {
		return err
	}
	return nil
}

// SessionUser returns the session with the token hash and its user if the
// session expires after now. EUNAUTHORIZED otherwise.
func (s *Store) SessionUser(ctx context.Context, tokenHash []byte, now time.Time) (parley.Session, parley.User, error) {
	var (
		sess parley.Session
		u    parley.User
	)
	err := s.pool.QueryRow(ctx, `
		SELECT s.token_hash, s.create_time, s.expire_time, u.id, u.username, u.create_time
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = $1 AND s.expire_time > $2`,
		tokenHash, now).Scan(&sess.TokenHash, &sess.CreateTime, &sess.ExpireTime, &u.ID, &u.Username, &u.CreateTime)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return parley.Session{}, parley.User{}, parley.Errorf(parley.EUNAUTHORIZED, "invalid or expired token")
	case err != nil:
		return parley.Session{}, parley.User{}, wrap("select session", err)
	}
	sess.UserID = u.ID
	sess.CreateTime = sess.CreateTime.UTC()
	sess.ExpireTime = sess.ExpireTime.UTC()
	u.CreateTime = u.CreateTime.UTC()
	return sess, u, nil
}

// ExtendSession moves a session's expiry to expire. ENOTFOUND if there is
// no such session.
func (s *Store) ExtendSession(ctx context.Context, tokenHash []byte, expire time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE sessions SET expire_time = $1 WHERE token_hash = $2`, expire, tokenHash)
	if err != nil {
		return wrap("extend session", err)
	}
	if tag.RowsAffected() == 0 {
		return parley.Errorf(parley.ENOTFOUND, "session not found")
	}
	return nil
}

// DeleteSession revokes a session. Deleting a missing session is not an error.
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash); err != nil {
		return wrap("delete session", err)
	}
	return nil
}
