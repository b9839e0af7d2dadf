package server

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/ratelimit"
	"github.com/parley-chat/parley/internal/striped"
)

// The quotas core: rate limits and caps on what one user or one client
// address may do, checked where the work happens (signIn and signUp in
// session.go, sendMessage, createRoom, addMember, the upload store of
// quota_upload.go, and every stream in the interceptor), so that they are
// the same on every protocol. A refusal is parley.ERATELIMITED with the time
// after which the same call may succeed: resource_exhausted with a
// google.rpc.RetryInfo on the wire.

// Rate is how often something may happen: Events every Per on average, in
// bursts of up to Burst. The zero Rate is no limit.
type Rate struct {
	Events int
	Per    time.Duration
	Burst  int
}

// Off reports whether r sets no limit.
func (r Rate) Off() bool { return r.Events <= 0 || r.Per <= 0 || r.Burst <= 0 }

// String formats r as parleyd's flags take it: "20/s,50" (20 a second,
// bursts of 50), "1/10m,5", or "off".
func (r Rate) String() string {
	if r.Off() {
		return "off"
	}
	return fmt.Sprintf("%d/%s,%d", r.Events, r.per(), r.Burst)
}

// per is Per as String writes it: "s", "m", "h" or a duration.
func (r Rate) per() string {
	switch r.Per {
	case time.Second:
		return "s"
	case time.Minute:
		return "m"
	case time.Hour:
		return "h"
	}
	return trimDuration(r.Per.String())
}

// trimDuration drops time.Duration.String's zero parts: "10m0s" is "10m".
func trimDuration(s string) string {
	for _, z := range []string{"0s", "0m"} {
		if len(s) > len(z) && s[len(s)-len(z):] == z && s[len(s)-len(z)-1] >= 'a' {
			s = s[:len(s)-len(z)]
		}
	}
	return s
}

func (r Rate) limit() rate.Limit { return rate.Limit(float64(r.Events) / r.Per.Seconds()) }

// Limits are a Server's rate limits and quotas. A zero Rate, or a zero cap,
// turns that limit off; the zero Limits turns every limit off.
//
// Sign-in is limited by failures, never by successes, in three buckets
// checked before any password is: per client address and username, per
// client address, and per username. An address from which a username signed
// in within the token lifetime is known for it and skips the per-address
// and per-username buckets, so neither an attacker guessing a user's
// password from many addresses nor one guessing many users' passwords from
// the user's own network locks the user out. See docs/ROBUSTNESS.md.
type Limits struct {
	// SignUpsPerIP limits SignUp calls that pass validation, per client
	// address, whether they create the account or find the name taken.
	SignUpsPerIP Rate
	// SignInFailuresPerIPUser limits failed sign-ins for one username from
	// one client address.
	SignInFailuresPerIPUser Rate
	// SignInFailuresPerIP limits failed sign-ins from one client address,
	// for any username, unless the address is known for the username.
	SignInFailuresPerIP Rate
	// SignInFailuresPerUser limits failed sign-ins for one username from
	// every address not known for it.
	SignInFailuresPerUser Rate
	// SendsPerUser limits messages sent, by SendMessage and Chat.
	SendsPerUser Rate
	// RoomsPerUser limits CreateRoom calls that pass validation.
	RoomsPerUser Rate
	// MemberAddsPerUser limits AddMember calls that pass validation (each
	// one tells whether a username exists).
	MemberAddsPerUser Rate
	// UploadsPerUser limits new uploads (CreateUpload, or an Upload stream
	// starting with metadata).
	UploadsPerUser Rate
	// OpenUploadsPerUser caps a user's unfinished uploads: an upload counts
	// from its creation until it completes, is deleted or expires
	// (WithUploadExpiry).
	OpenUploadsPerUser int
	// StoredBytesPerUser caps the bytes a user keeps on the server: the
	// sizes of the user's files plus the sizes unfinished uploads announced
	// (parley.FileStore.StoredBytes). A new upload that would go beyond it
	// is refused; files stay (nothing deletes them yet), unfinished uploads
	// free their share when they expire.
	StoredBytesPerUser int64
	// StreamsPerUser caps a user's open streams: Subscribe, Chat, Download
	// and Upload together.
	StreamsPerUser int
	// KeysPerLimit caps the number of keys (users, addresses, pairs) each
	// rate limit remembers; memory stays bounded however many arrive.
	KeysPerLimit int
}

// DefaultLimits returns the limits a Server has unless WithLimits says
// otherwise: generous for people and well-behaved clients, tight for
// guessing passwords.
func DefaultLimits() Limits {
	return Limits{
		SignUpsPerIP:            Rate{Events: 20, Per: time.Hour, Burst: 20},
		SignInFailuresPerIPUser: Rate{Events: 1, Per: time.Minute, Burst: 10},
		SignInFailuresPerIP:     Rate{Events: 6, Per: time.Minute, Burst: 30},
		SignInFailuresPerUser:   Rate{Events: 10, Per: time.Minute, Burst: 100},
		SendsPerUser:            Rate{Events: 20, Per: time.Second, Burst: 50},
		RoomsPerUser:            Rate{Events: 1, Per: time.Minute, Burst: 20},
		MemberAddsPerUser:       Rate{Events: 10, Per: time.Minute, Burst: 50},
		UploadsPerUser:          Rate{Events: 1, Per: time.Second, Burst: 30},
		OpenUploadsPerUser:      50,
		StoredBytesPerUser:      DefaultStoredBytesPerUser,
		StreamsPerUser:          128,
		KeysPerLimit:            DefaultKeysPerLimit,
	}
}

// DefaultStoredBytesPerUser is Limits.StoredBytesPerUser unless WithLimits
// says otherwise: 1 GiB, some 40 files of the largest size by default
// (25 MiB) or hundreds of photos.
const DefaultStoredBytesPerUser = 1 << 30

// DefaultKeysPerLimit is how many keys each rate limit remembers unless
// Limits.KeysPerLimit says otherwise: at most about 15 MiB a limit.
const DefaultKeysPerLimit = 1 << 16

// WithLimits sets the rate limits and quotas. A zero Rate or cap in l turns
// that limit off; a zero KeysPerLimit is DefaultKeysPerLimit. By default,
// DefaultLimits().
func WithLimits(l Limits) Option {
	return optionFunc(func(c *config) { c.limits = l })
}

// capRetry is the RetryInfo of a cap on things in progress (streams,
// unfinished uploads that will not expire soon): when one ends cannot be
// known, so clients are told to try again after a short while.
const capRetry = time.Second

// quotas holds the state of every limit. A nil limiter is a limit that is
// off.
type quotas struct {
	limits Limits
	now    func() time.Time
	// knownFor is how long a successful sign-in makes an address known for
	// its username.
	knownFor time.Duration

	signUps                  *ratelimit.Keyed
	signInIPUser, signInIP   *ratelimit.Keyed
	signInUser               *ratelimit.Keyed
	knownSignIns             *ratelimit.Set
	sends, rooms, memberAdds *ratelimit.Keyed
	uploads                  *ratelimit.Keyed
	streams                  userCounts
	open                     *openUploads
	storedLocks              striped.Locks // a user's uploads being created, one at a time
}

// newQuotas returns the state of the limits l. Unfinished uploads count
// for uploadExpiry, and are reclaimed within sweepEvery after that.
func newQuotas(l Limits, now func() time.Time, knownFor, uploadExpiry, sweepEvery time.Duration) *quotas {
	if l.KeysPerLimit <= 0 {
		l.KeysPerLimit = DefaultKeysPerLimit
	}
	keyed := func(r Rate) *ratelimit.Keyed {
		if r.Off() {
			return nil
		}
		return ratelimit.New(r.limit(), r.Burst, l.KeysPerLimit)
	}
	q := &quotas{
		limits:       l,
		now:          now,
		knownFor:     knownFor,
		signUps:      keyed(l.SignUpsPerIP),
		signInIPUser: keyed(l.SignInFailuresPerIPUser),
		signInIP:     keyed(l.SignInFailuresPerIP),
		signInUser:   keyed(l.SignInFailuresPerUser),
		sends:        keyed(l.SendsPerUser),
		rooms:        keyed(l.RoomsPerUser),
		memberAdds:   keyed(l.MemberAddsPerUser),
		uploads:      keyed(l.UploadsPerUser),
		streams:      userCounts{max: l.StreamsPerUser},
	}
	if q.signInIP != nil || q.signInUser != nil {
		q.knownSignIns = ratelimit.NewSet(l.KeysPerLimit)
	}
	if l.OpenUploadsPerUser > 0 || l.StoredBytesPerUser > 0 {
		q.open = &openUploads{
			max: l.OpenUploadsPerUser, maxUsers: l.KeysPerLimit, lifetime: uploadExpiry, reclaimedBy: uploadExpiry + sweepEvery,
			byUser: map[string]*userUploads{}, owner: map[string]string{},
		}
	}
	return q
}

// rateLimited is the refusal of a rate limit: what was refused, the limit,
// and when to retry (rounded up to the millisecond, so a client that waits
// exactly that long is not refused again).
func rateLimited(what string, r Rate, wait time.Duration) error {
	wait = roundUp(wait)
	return parley.RateLimited(wait, "%s: at most %d/%s, in bursts of %d; retry in %v", what, r.Events, r.per(), r.Burst, wait)
}

func roundUp(d time.Duration) time.Duration {
	if d >= time.Duration(math.MaxInt64)-time.Millisecond {
		return d
	}
	return (d + time.Millisecond - 1).Truncate(time.Millisecond)
}

// allow takes a token from key's bucket in k, refusing with what.
func (q *quotas) allow(k *ratelimit.Keyed, r Rate, key, what string) error {
	if wait := k.Allow(key, q.now()); wait > 0 {
		return rateLimited(what, r, wait)
	}
	return nil
}

// send counts a message sent by userID.
func (q *quotas) send(userID string) error {
	return q.allow(q.sends, q.limits.SendsPerUser, userID, "too many messages")
}

// createRoom counts a room created by userID.
func (q *quotas) createRoom(userID string) error {
	return q.allow(q.rooms, q.limits.RoomsPerUser, userID, "too many rooms created")
}

// addMember counts a username looked up by AddMember for userID.
func (q *quotas) addMember(userID string) error {
	return q.allow(q.memberAdds, q.limits.MemberAddsPerUser, userID, "too many members added")
}

// signUp counts a sign-up from a client address.
func (q *quotas) signUp(ip string) error {
	return q.allow(q.signUps, q.limits.SignUpsPerIP, ip, "too many sign-ups from this address")
}

// openStream takes one of userID's open streams; release gives it back.
func (q *quotas) openStream(userID string) (release func(), err error) {
	release, ok := q.streams.acquire(userID)
	if !ok {
		return nil, parley.RateLimited(capRetry, "too many open streams: at most %d per user; close one", q.streams.max)
	}
	return release, nil
}

// userCounts counts something in progress per user, up to max (0: no cap).
// Only users with something in progress have an entry, so it is bounded by
// what is in progress.
type userCounts struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

func (c *userCounts) acquire(userID string) (release func(), ok bool) {
	if c.max <= 0 {
		return func() {}, true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[userID] >= c.max {
		return nil, false
	}
	if c.n == nil {
		c.n = make(map[string]int)
	}
	c.n[userID]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.n[userID]--; c.n[userID] <= 0 {
				delete(c.n, userID)
			}
		})
	}, true
}

// openStream takes one of the caller's open streams, if the caller is a
// user; release gives it back when the stream ends.
func (s *Server) openStream(ctx context.Context) (release func(), err error) {
	p, err := principalFrom(ctx)
	if err != nil {
		return func() {}, nil //nolint:nilerr // not a Parley stream (health, reflection), or refused before
	}
	return s.quotas.openStream(p.user.ID)
}
