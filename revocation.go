package parley

import "context"

// Revocation says that something a stream relies on has ended, so the
// streams that rely on it must end too, on every process that serves them.
// Exactly one of its two forms is set:
//
//   - TokenHash: a session ended (signed out); every stream opened with
//     its token ends with EUNAUTHORIZED;
//   - UserID and RoomID: a membership ended (the user left or was
//     removed); the user's streams of that room end with EFORBIDDEN.
//
// A revocation says only what ended, never why: the store has already
// committed it, and it is the truth a stream that re-checks finds.
type Revocation struct {
	TokenHash []byte // the SHA-256 of a revoked session's bearer token
	UserID    string // with RoomID: the member whose membership ended
	RoomID    string
}

// IsSession reports whether r revokes a session rather than a membership.
func (r Revocation) IsSession() bool { return len(r.TokenHash) > 0 }

// RevocationBroker carries revocations to the streams of every process
// that serves the same store: at once, not at a stream's next re-check.
// Brokers that span processes (postgres.Broker) send them over the same
// path as room events; inmem.Broker reaches only its own process.
//
// Delivery is at most once per handler and best effort: a revocation sent
// while a process could not hear it (its database connection was down) is
// lost there, so a stream still re-checks its session now and then (the
// server's heartbeat). Handlers must therefore treat a revocation as a
// hint to end streams, and a duplicate as harmless.
type RevocationBroker interface {
	// Revoke hands r to the revocation handlers of every process sharing
	// the broker, after the store committed what r says. This process's
	// handlers are called before it returns, even if ctx has ended; other
	// processes' handlers later (a broker spanning processes need not wait
	// for them). The error says r may not have reached the other
	// processes: ctx.Err() if ctx ended first, EUNAVAILABLE if the
	// broker's database could not be reached.
	Revoke(ctx context.Context, r Revocation) error
	// HandleRevocations calls handle with every revocation any process
	// sends, until the returned stop is called (stop is safe to call more
	// than once; once it returns, handle is not called again). handle
	// may be called from several goroutines at once and must not block:
	// cancelling contexts is what it is for.
	HandleRevocations(handle func(Revocation)) (stop func())
}
