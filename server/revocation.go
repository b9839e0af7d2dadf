package server

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/parley-chat/parley"
)

// Ending streams when what they rely on ends: a session (signed out or
// expired) or a membership (the user left the room). A revocation reaches
// every replica through the broker (parley.RevocationBroker) and ends the
// matching streams of this process at once (revocationHub); a stream's
// heartbeat re-check (recheckSession, recheckMembership) is the safety net
// for a revocation that did not arrive, and expiry is a timer shared by
// the streams of a session. The same revocation drops the session or membership from the
// auth cache of every replica (auth_cache.go), so later calls are refused
// too.

var (
	errTokenRevoked      = parley.Errorf(parley.EUNAUTHORIZED, "token was revoked: sign in again")
	errTokenExpired      = parley.Errorf(parley.EUNAUTHORIZED, "token expired: sign in again")
	errMembershipRevoked = parley.Errorf(parley.EFORBIDDEN, "no longer a member of this room")
)

// revocationHub tracks this process's open streams by the session and the
// memberships they rely on, and ends them when a revocation names one. A
// stream costs one context and its places in the sets; the streams of a
// session share one expiry timer.
type revocationHub struct {
	mu       sync.Mutex
	streams  map[revocationKey]map[*streamWatch]struct{}
	expiries map[sessionExpiry]*expiryTimer
}

// revocationKey names a session (token) or a membership (user, room).
type revocationKey struct {
	token, user, room string
}

// sessionExpiry names the expiry of a session: its token and when it
// expires (Unix nanoseconds).
type sessionExpiry struct {
	token string
	at    int64
}

// expiryTimer ends the streams of a session when it expires; streams
// counts those that share it.
type expiryTimer struct {
	timer   *time.Timer
	streams int
}

// streamWatch is one stream's watch: the cancel of its context and the
// keys it is listed under.
type streamWatch struct {
	cancel  context.CancelCauseFunc
	keys    []revocationKey
	expires sessionExpiry // token "" when the watch is not of a session
}

func newRevocationHub() *revocationHub {
	return &revocationHub{
		streams:  make(map[revocationKey]map[*streamWatch]struct{}),
		expiries: make(map[sessionExpiry]*expiryTimer),
	}
}

// watchSession returns a context that ends when the session is revoked
// (cause errTokenRevoked) or expires (errTokenExpired, a timer at its
// expiry time shared by all the streams of the session); stop must be
// called when the stream ends.
func (h *revocationHub) watchSession(ctx context.Context, p *principal) (_ context.Context, stop func()) {
	return h.watchSessionAndMembership(ctx, p, "")
}

// watchSessionAndMembership is watchSession whose context also ends when
// the user's membership of roomID (unless "") is revoked (cause
// errMembershipRevoked), in one context.
func (h *revocationHub) watchSessionAndMembership(ctx context.Context, p *principal, roomID string) (_ context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &streamWatch{cancel: cancel, expires: sessionExpiry{token: string(p.tokenHash), at: p.expires.UnixNano()}}
	w.keys = append(make([]revocationKey, 0, 2), revocationKey{token: w.expires.token})
	if roomID != "" {
		w.keys = append(w.keys, revocationKey{user: p.user.ID, room: roomID})
	}
	h.mu.Lock()
	h.add(w)
	t := h.expiries[w.expires]
	if t == nil {
		t = &expiryTimer{timer: time.AfterFunc(time.Until(p.expires), func() { h.expire(w.expires) })}
		h.expiries[w.expires] = t
	}
	t.streams++
	h.mu.Unlock()
	return ctx, w.stop(h)
}

// watchMembership returns a context that ends when the user's membership
// of the room is revoked (cause errMembershipRevoked); stop must be called
// when the stream, or its part that reads the room, ends.
func (h *revocationHub) watchMembership(ctx context.Context, userID, roomID string) (_ context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &streamWatch{cancel: cancel, keys: []revocationKey{{user: userID, room: roomID}}}
	h.mu.Lock()
	h.add(w)
	h.mu.Unlock()
	return ctx, w.stop(h)
}

// add lists w under its keys; h.mu must be held.
func (h *revocationHub) add(w *streamWatch) {
	for _, key := range w.keys {
		set := h.streams[key]
		if set == nil {
			set = make(map[*streamWatch]struct{})
			h.streams[key] = set
		}
		set[w] = struct{}{}
	}
}

// stop returns the function that ends w: it leaves h, stopping its
// session's expiry timer if it was the last stream to share it, and
// cancels its context.
func (w *streamWatch) stop(h *revocationHub) func() {
	return func() {
		h.mu.Lock()
		for _, key := range w.keys {
			set := h.streams[key]
			delete(set, w)
			if len(set) == 0 {
				delete(h.streams, key)
			}
		}
		if t := h.expiries[w.expires]; w.expires.token != "" && t != nil {
			if t.streams--; t.streams == 0 {
				t.timer.Stop()
				delete(h.expiries, w.expires)
			}
		}
		h.mu.Unlock()
		w.cancel(nil)
	}
}

// expire ends the streams of a session at its expiry.
func (h *revocationHub) expire(e sessionExpiry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.streams[revocationKey{token: e.token}] {
		if w.expires == e {
			w.cancel(errTokenExpired)
		}
	}
}

// revoke ends every stream of this process that relies on what r names.
// It never blocks on a stream: it only cancels their contexts.
func (h *revocationHub) revoke(r parley.Revocation) {
	key, cause := revocationKey{user: r.UserID, room: r.RoomID}, errMembershipRevoked
	if r.IsSession() {
		key, cause = revocationKey{token: string(r.TokenHash)}, errTokenRevoked
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.streams[key] {
		w.cancel(cause)
	}
}

// revoke ends what relies on what r names, on this process at once and,
// through the broker, on every other replica (revoked). The store has
// committed r already, so a failure to reach the other replicas is only
// logged: their auth caches drop it within their TTL, and their streams'
// heartbeat re-check finds it.
func (s *Server) revoke(ctx context.Context, r parley.Revocation) {
	if s.revocations == nil {
		s.revoked(r)
		return
	}
	if err := s.revocations.Revoke(context.WithoutCancel(ctx), r); err != nil {
		s.logger().WarnContext(ctx, "revocation not sent to other replicas; their streams end at the next heartbeat", "err", err)
	}
}

// revoked is this process's handler of every revocation, its own and the
// other replicas': the auth cache forgets what r names before the streams
// that rely on it end, so that a client reconnecting at once is refused.
func (s *Server) revoked(r parley.Revocation) {
	s.auth.forget(r)
	s.streams.revoke(r)
}

// revokedBy returns why ctx ended if a revocation or an expiry ended it,
// or nil if the client went away or a deadline passed.
func revokedBy(ctx context.Context) error {
	cause := context.Cause(ctx)
	for _, revoked := range []error{errTokenRevoked, errTokenExpired, errMembershipRevoked} {
		if errors.Is(cause, revoked) {
			return cause
		}
	}
	return nil
}

// recheckSession confirms a stream's session is still valid, for
// revocations this process did not hear of (lost on the way, or made in
// the database directly). It trusts what the store confirmed within the
// last heartbeat (recheckAge), so all the streams of a token share one
// store read per heartbeat.
func (s *Server) recheckSession(ctx context.Context, p *principal) error {
	_, err := s.sessionFor(ctx, p.tokenHash, s.recheckAge())
	if parley.ErrorCodeOf(err) == parley.EUNAUTHORIZED {
		return errTokenRevoked
	}
	return err
}

// recheckMembership confirms the caller is still a member of a room, for
// the same reasons as recheckSession, and shared in the same way by all
// the streams of the user on the room.
func (s *Server) recheckMembership(ctx context.Context, p *principal, roomID string) error {
	_, err := s.memberRoomWithin(ctx, roomID, p.user.ID, s.recheckAge())
	switch parley.ErrorCodeOf(err) {
	case parley.EFORBIDDEN, parley.ENOTFOUND:
		return errMembershipRevoked
	}
	return err
}

// recheckAge is how old a session or membership confirmed by the store
// a heartbeat re-check trusts: one heartbeat, or the auth cache's TTL if
// that is longer; nothing without the cache. A revocation that never
// arrives therefore ends a stream within two heartbeats.
func (s *Server) recheckAge() time.Duration {
	if s.auth.ttl == 0 {
		return 0
	}
	return max(s.auth.ttl, s.cfg.heartbeat)
}
