package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"

	"github.com/parley-chat/parley"
)

// Stream tickets: what a browser's EventSource, which cannot send an
// Authorization header, shows instead of the long-lived token to open the
// Server-Sent Events route of one room (events_http.go). The session's
// token never goes into a URL.
//
// A ticket is "pst_" + base64url(session token hash || 16 random bytes) +
// "." + room id. The store keeps it as a session row of its own under
// hashTicket(ticket), expiring ticketLifetime after it was minted: every
// replica, and a restarted server, can check it. The room is in clear so a
// ticket of another room is told apart (permission_denied) from one that
// is unknown or expired (unauthenticated); the session's hash (which is no
// credential: only the token is) ties the stream to the session, so
// signing out ends it as it ends every other stream. A ticket is no bearer
// token: its prefix is not the token prefix, its row's hash is no token's
// hash, and only the events route reads it.
//
// A ticket may be used more than once until it expires: an EventSource
// reconnects with the same URL. While a stream it opened runs, each
// heartbeat renews it for another ticketLifetime, so a reconnection after
// a dropped connection or a server restart finds it valid; it expires
// ticketLifetime after its last stream's last heartbeat. The auth cache
// keeps a ticket's row as it keeps a session's (auth_cache.go): a row
// past the expiry time it was cached with is read from the store again,
// which has the renewals of every replica.

// ticketPrefix marks stream tickets.
const ticketPrefix = "pst_"

// minTicketLifetime is the shortest lifetime of a stream ticket: 60 s.
const minTicketLifetime = time.Minute

// ticketLifetime is how long a ticket stays valid after it is minted or
// renewed: 60 s, or two heartbeats if that is longer (a running stream
// renews it at each).
func (s *Server) ticketLifetime() time.Duration {
	return max(minTicketLifetime, 2*s.cfg.heartbeat)
}

var (
	errBadTicket       = parley.Errorf(parley.EUNAUTHORIZED, "invalid or expired stream ticket: create a new one")
	errTicketOtherRoom = parley.Errorf(parley.EFORBIDDEN, "this stream ticket is for another room")
)

// streamTicket is a ticket as the events route checked it.
type streamTicket struct {
	hash []byte // the store's key of its row
}

// createStreamTicket mints a ticket for a member's streams of a room.
func (s *Server) createStreamTicket(ctx context.Context, p *principal, roomID string) (string, time.Time, error) {
	if err := parley.Invalid(validateID("room_id", roomID)); err != nil {
		return "", time.Time{}, err
	}
	if _, err := s.memberRoom(ctx, roomID, p.user.ID); err != nil {
		return "", time.Time{}, err
	}
	secret := make([]byte, 16)
	_, _ = rand.Read(secret) // crypto/rand.Read never fails (Go >= 1.24)
	ticket := ticketPrefix + base64.RawURLEncoding.EncodeToString(append(bytes.Clone(p.tokenHash), secret...)) + "." + roomID
	now := s.now()
	row := parley.Session{TokenHash: hashTicket(ticket), UserID: p.user.ID, CreateTime: now, ExpireTime: now.Add(s.ticketLifetime())}
	if err := s.store.CreateSession(ctx, row); err != nil {
		return "", time.Time{}, err
	}
	return ticket, row.ExpireTime, nil
}

// principalForTicket checks a ticket for a stream of roomID and returns
// the principal of the session it was minted in.
func (s *Server) principalForTicket(ctx context.Context, ticket, roomID string) (*principal, *streamTicket, error) {
	body, room, ok := strings.Cut(strings.TrimPrefix(ticket, ticketPrefix), ".")
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if !ok || !strings.HasPrefix(ticket, ticketPrefix) || err != nil || len(raw) != sha256.Size+16 || len(ticket) > 256 {
		return nil, nil, errBadTicket
	}
	hash := hashTicket(ticket)
	row, err := s.sessionFor(ctx, hash, s.auth.ttl)
	if parley.ErrorCodeOf(err) == parley.EUNAUTHORIZED {
		return nil, nil, errBadTicket
	} else if err != nil {
		return nil, nil, err
	}
	if room != roomID {
		return nil, nil, errTicketOtherRoom
	}
	sessionHash := raw[:sha256.Size]
	session, err := s.sessionFor(ctx, sessionHash, s.auth.ttl)
	if parley.ErrorCodeOf(err) == parley.EUNAUTHORIZED || err == nil && session.user.ID != row.user.ID {
		return nil, nil, errTokenRevoked
	} else if err != nil {
		return nil, nil, err
	}
	return &principal{user: row.user, tokenHash: sessionHash, expires: session.expires}, &streamTicket{hash: hash}, nil
}

// renewTicket keeps a ticket whose stream runs valid for another
// ticketLifetime, in one write that a stream ending meanwhile does not
// cancel. A renewal that fails is only logged: the stream goes on, and its
// ticket expires at the time set before.
func (s *Server) renewTicket(ctx context.Context, t *streamTicket) {
	err := s.store.ExtendSession(context.WithoutCancel(ctx), t.hash, s.now().Add(s.ticketLifetime()))
	if err != nil {
		s.logger().WarnContext(ctx, "stream ticket not renewed", "err", err)
	}
}

// hashTicket is the store's key of a ticket's row, distinct from any
// token's (hashToken) by its prefix.
func hashTicket(ticket string) []byte {
	sum := sha256.Sum256([]byte("parley stream ticket\x00" + ticket))
	return sum[:]
}
