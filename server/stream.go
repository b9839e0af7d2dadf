package server

import (
	"context"
	"errors"
	"sync"

	"github.com/parley-chat/parley"
)

var (
	errTokenRevoked = parley.Errorf(parley.EUNAUTHORIZED, "token was revoked: sign in again")
	errTokenExpired = parley.Errorf(parley.EUNAUTHORIZED, "token expired: sign in again")
)

// streamRegistry tracks the open streams of each session so that SignOut
// ends them at once. Expiry is handled by each stream's deadline, and a
// revocation elsewhere (another replica) by the periodic re-check.
type streamRegistry struct {
	mu      sync.Mutex
	streams map[string]map[*context.CancelCauseFunc]struct{}
}

func newStreamRegistry() *streamRegistry {
	return &streamRegistry{streams: make(map[string]map[*context.CancelCauseFunc]struct{})}
}

// watch returns a context that ends when the session is revoked or expires;
// the returned func must be called when the stream ends.
func (r *streamRegistry) watch(ctx context.Context, p *principal) (context.Context, func()) {
	ctx, cancelExpiry := context.WithDeadlineCause(ctx, p.expires, errTokenExpired)
	ctx, cancel := context.WithCancelCause(ctx)
	key := string(p.tokenHash)
	r.mu.Lock()
	set := r.streams[key]
	if set == nil {
		set = make(map[*context.CancelCauseFunc]struct{})
		r.streams[key] = set
	}
	set[&cancel] = struct{}{}
	r.mu.Unlock()
	return ctx, func() {
		r.mu.Lock()
		delete(set, &cancel)
		if len(set) == 0 {
			delete(r.streams, key)
		}
		r.mu.Unlock()
		cancel(nil)
		cancelExpiry()
	}
}

// revoke ends every open stream of the session.
func (r *streamRegistry) revoke(tokenHash []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for cancel := range r.streams[string(tokenHash)] {
		(*cancel)(errTokenRevoked)
	}
}

// sessionEnded returns why ctx ended if it was because of the session, or
// nil if the client went away or the deadline passed.
func sessionEnded(ctx context.Context) error {
	if cause := context.Cause(ctx); errors.Is(cause, errTokenRevoked) || errors.Is(cause, errTokenExpired) {
		return cause
	}
	return nil
}
