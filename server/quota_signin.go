package server

import (
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/ratelimit"
)

// Sign-in throttling (see Limits): every attempt holds a token of each
// bucket that applies until its password is checked; a wrong password (or
// an unknown username, which looks the same) spends them, a right one gives
// them back and makes the address known for the username. The buckets are
// checked before the username is looked up, so a refusal says nothing about
// whether the user exists, and it is the same message whichever bucket is
// empty.

// errTooManySignIns is the refusal of every sign-in bucket.
func errTooManySignIns(wait time.Duration) error {
	wait = roundUp(wait)
	return parley.RateLimited(wait, "too many failed sign-ins: retry in %v", wait)
}

// signInAttempt is a sign-in under way.
type signInAttempt struct {
	q        *quotas
	pair     string // username and client address
	attempts []*ratelimit.Attempt
}

// beginSignIn starts a sign-in of username from the client address ip (its
// addressKey, as clientIPFrom gives it), or refuses it.
func (q *quotas) beginSignIn(ip, username string) (*signInAttempt, error) {
	now := q.now()
	a := &signInAttempt{q: q, pair: username + " " + ip}
	type check struct {
		k   *ratelimit.Keyed
		key string
	}
	// The per-address bucket first: an address that has run out touches no
	// other bucket, so it cannot crowd them with keys.
	checks := []check{{q.signInIP, ip}, {q.signInUser, username}, {q.signInIPUser, a.pair}}
	if q.knownSignIns.Has(a.pair, now) {
		checks = checks[2:]
	}
	for _, c := range checks {
		attempt, wait := c.k.Begin(c.key, now)
		if wait > 0 {
			a.abandon()
			return nil, errTooManySignIns(wait)
		}
		a.attempts = append(a.attempts, attempt)
	}
	return a, nil
}

// failed ends a sign-in whose credentials were wrong.
func (a *signInAttempt) failed() {
	now := a.q.now()
	for _, attempt := range a.attempts {
		attempt.Fail(now)
	}
}

// succeeded ends a sign-in that started a session.
func (a *signInAttempt) succeeded() {
	a.abandon()
	a.q.known(a.pair)
}

// abandon ends a sign-in that could not be decided (a storage error): it
// costs nothing.
func (a *signInAttempt) abandon() {
	now := a.q.now()
	for _, attempt := range a.attempts {
		attempt.Pass(now)
	}
}

// knownSignIn marks the client address ip as known for username, as a
// successful sign-in or sign-up does.
func (q *quotas) knownSignIn(ip, username string) {
	q.known(username + " " + ip)
}

func (q *quotas) known(pair string) {
	now := q.now()
	q.knownSignIns.Add(pair, now.Add(q.knownFor), now)
}
