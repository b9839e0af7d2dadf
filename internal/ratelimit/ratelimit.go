// Package ratelimit keeps a token bucket (golang.org/x/time/rate) per key,
// such as a user id or a client address, in bounded memory: however many
// distinct keys arrive, at most the configured number of buckets exist.
//
// A bucket that has refilled to its burst is the same as no bucket, so it is
// dropped as soon as it reaches the back of its shard's least-recently-used
// list. When a shard is full of buckets still refilling, the least recently
// used one is forgotten: its key starts again with a full burst. That is the
// one way to get around a limit, and it takes more distinct keys in use
// within one refill period than the table holds.
package ratelimit

import (
	"math"
	"time"

	"golang.org/x/time/rate"
)

// Keyed is a token bucket per key, every bucket with the same rate and
// burst. A nil *Keyed allows everything. Methods take the time, so that
// tests need not sleep.
type Keyed struct {
	limit rate.Limit
	burst int
	table *table[bucket]
}

// bucket is a key's limiter and its attempts whose outcome is not known yet
// (see Begin), which hold a token each until they end.
type bucket struct {
	lim     *rate.Limiter
	pending int
}

// New returns a Keyed whose buckets hold up to burst tokens and refill at
// limit tokens a second, keeping at most maxKeys buckets.
func New(limit rate.Limit, burst, maxKeys int) *Keyed {
	k := &Keyed{limit: limit, burst: burst}
	k.table = newTable(maxKeys, func(b *bucket, now time.Time) bool {
		return b.pending == 0 && b.lim.TokensAt(now) >= float64(k.burst)
	})
	return k
}

func (k *Keyed) init(b *bucket) { b.lim = rate.NewLimiter(k.limit, k.burst) }

// Allow takes a token from key's bucket. If there is none it takes nothing
// and returns how long until there will be one; it returns 0 when allowed.
func (k *Keyed) Allow(key string, now time.Time) time.Duration {
	if k == nil {
		return 0
	}
	var wait time.Duration
	k.table.update(key, now, k.init, func(b *bucket, _ bool) {
		if b.pending == 0 && b.lim.AllowN(now, 1) {
			return
		}
		if wait = k.wait(b, now); wait == 0 {
			b.lim.AllowN(now, 1)
		}
	})
	return wait
}

// Begin starts an attempt whose cost depends on its outcome, such as a
// sign-in: it holds one of key's tokens until the attempt ends, so that
// attempts running at once cannot all pass on the same token. If no token
// is free it returns how long until one will be, and a nil *Attempt.
func (k *Keyed) Begin(key string, now time.Time) (*Attempt, time.Duration) {
	if k == nil {
		return nil, 0
	}
	var (
		a    *Attempt
		wait time.Duration
	)
	k.table.update(key, now, k.init, func(b *bucket, _ bool) {
		if wait = k.wait(b, now); wait == 0 {
			b.pending++
			a = &Attempt{k: k, key: key}
		}
	})
	return a, wait
}

// wait is how long until b has a token not held by an attempt.
func (k *Keyed) wait(b *bucket, now time.Time) time.Duration {
	free := b.lim.TokensAt(now) - float64(b.pending)
	if free >= 1 {
		return 0
	}
	if k.limit <= 0 {
		return time.Duration(math.MaxInt64)
	}
	// Rounded up to the nanosecond, less a float's error: 1/60 a second
	// is a minute, not a minute and a nanosecond.
	ns := (1 - free) / float64(k.limit) * float64(time.Second)
	return time.Duration(math.Ceil(ns * (1 - 1e-12)))
}

// Len is how many buckets the Keyed holds.
func (k *Keyed) Len() int {
	if k == nil {
		return 0
	}
	return k.table.len()
}

// Attempt is an attempt begun with Keyed.Begin. A nil *Attempt does nothing.
type Attempt struct {
	k   *Keyed
	key string
}

// Fail ends the attempt and spends its token.
func (a *Attempt) Fail(now time.Time) { a.end(now, true) }

// Pass ends the attempt and gives its token back.
func (a *Attempt) Pass(now time.Time) { a.end(now, false) }

func (a *Attempt) end(now time.Time, spend bool) {
	if a == nil {
		return
	}
	// If the bucket was forgotten meanwhile, the attempt starts a new one:
	// a failure is still counted.
	a.k.table.update(a.key, now, a.k.init, func(b *bucket, created bool) {
		if !created && b.pending > 0 {
			b.pending--
		}
		if spend {
			// Reserve rather than Allow: the token was held for this
			// attempt, and a bucket taken below zero stays empty longer.
			b.lim.ReserveN(now, 1)
		}
	})
}

// Set is a bounded set of keys, each until a time. A nil *Set is empty.
type Set struct {
	table *table[time.Time]
}

// NewSet returns a Set keeping at most maxKeys keys; when full, the least
// recently added or found key is forgotten first.
func NewSet(maxKeys int) *Set {
	return &Set{table: newTable(maxKeys, func(until *time.Time, now time.Time) bool { return !now.Before(*until) })}
}

// Add puts key in the set until the given time.
func (s *Set) Add(key string, until, now time.Time) {
	if s == nil {
		return
	}
	s.table.update(key, now, func(*time.Time) {}, func(v *time.Time, _ bool) { *v = until })
}

// Has reports whether key is in the set at now.
func (s *Set) Has(key string, now time.Time) bool {
	if s == nil {
		return false
	}
	in := false
	s.table.peek(key, func(until *time.Time) { in = now.Before(*until) })
	return in
}

// Len is how many keys the Set holds, some of them possibly expired.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return s.table.len()
}
