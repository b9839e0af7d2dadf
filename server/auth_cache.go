package server

import (
	"sync"
	"time"

	"github.com/parley-chat/parley"
)

// The auth cache: sessions and memberships kept in process, so that a
// call authenticates, and a send checks its sender's membership, without a
// store round trip. Only what the store confirmed is kept: a session that
// exists (until its expiry time) and a membership that exists; an unknown
// token or a non-member always asks the store.
//
// An entry is dropped at once when this process hears that what it says
// ended: sign-out and leaving a room are revocations (revocation.go),
// which reach every replica through the broker, and the handler of each
// replica drops the entry before it ends the streams. A session past its
// expiry time is never answered from the cache. What changed without a
// revocation (a row deleted in the database directly, a revocation lost
// on the way) is seen when the entry is older than the TTL, and by the
// heartbeat re-check of a stream when it is older than the heartbeat
// (sessionFor and memberRoomWithin).

// DefaultAuthCacheTTL is how long a session or a membership confirmed by
// the store is trusted without asking it again, unless a revocation drops
// it first.
const DefaultAuthCacheTTL = 2 * time.Second

// DefaultAuthCacheEntries is how many sessions, and how many memberships,
// the cache keeps at most: 47 MiB of heap for both when full, with the
// stores' 28-byte ids (BenchmarkAuthCacheFull).
const DefaultAuthCacheEntries = 65536

// authCacheEvictSample is how many entries a full cache looks at to choose
// the one to evict: the oldest of them.
const authCacheEvictSample = 8

// authCache is the sessions and memberships this process confirmed.
type authCache struct {
	ttl      time.Duration // 0: no cache
	sessions *expiringMap[string, cachedSession]
	members  *expiringMap[membershipKey, parley.Room]
}

// cachedSession is a session as the store confirmed it.
type cachedSession struct {
	user    parley.User
	expires time.Time
}

// membershipKey names a user's membership of a room.
type membershipKey struct {
	user, room string
}

func newAuthCache(ttl time.Duration, entries int) *authCache {
	if ttl <= 0 || entries <= 0 {
		ttl, entries = 0, 0
	}
	return &authCache{
		ttl:      ttl,
		sessions: newExpiringMap[string, cachedSession](entries),
		members:  newExpiringMap[membershipKey, parley.Room](entries),
	}
}

// forget drops what r says ended.
func (c *authCache) forget(r parley.Revocation) {
	if r.IsSession() {
		c.sessions.remove(string(r.TokenHash))
		return
	}
	c.members.remove(membershipKey{user: r.UserID, room: r.RoomID})
}

// expiringMap is a bounded map whose entries are trusted for a maximum
// age given at each lookup. A value read from the store before a removal
// of any key must not be put after it (it may be what was removed), so
// removals advance a generation and put takes the generation read before
// the store was asked.
type expiringMap[K comparable, V any] struct {
	max int

	mu         sync.Mutex
	generation uint64
	entries    map[K]expiringEntry[V]
}

type expiringEntry[V any] struct {
	value  V
	loaded time.Time // when the store was asked
}

func newExpiringMap[K comparable, V any](maxEntries int) *expiringMap[K, V] {
	return &expiringMap[K, V]{max: maxEntries, entries: make(map[K]expiringEntry[V])}
}

// get returns the value of k if it was loaded at most maxAge before now
// (and not after now: a clock that went back trusts nothing).
func (m *expiringMap[K, V]) get(k K, now time.Time, maxAge time.Duration) (V, bool) {
	m.mu.Lock()
	e, ok := m.entries[k]
	m.mu.Unlock()
	if !ok || now.Before(e.loaded) || now.Sub(e.loaded) >= maxAge {
		var zero V
		return zero, false
	}
	return e.value, true
}

// begin returns the generation to give put for a value about to be read.
func (m *expiringMap[K, V]) begin() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.generation
}

// put stores v, loaded at loaded, unless a key was removed since begin
// returned generation. A full map first evicts the oldest of a few
// entries.
func (m *expiringMap[K, V]) put(k K, v V, loaded time.Time, generation uint64) {
	if m.max <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if generation != m.generation {
		return
	}
	if _, ok := m.entries[k]; !ok && len(m.entries) >= m.max {
		m.evictLocked()
	}
	m.entries[k] = expiringEntry[V]{value: v, loaded: loaded}
}

// evictLocked removes the oldest of authCacheEvictSample entries, in Go's
// map order, which starts at a random place.
func (m *expiringMap[K, V]) evictLocked() {
	var (
		victim K
		oldest time.Time
		seen   int
	)
	for k, e := range m.entries {
		if seen == 0 || e.loaded.Before(oldest) {
			victim, oldest = k, e.loaded
		}
		if seen++; seen == authCacheEvictSample {
			break
		}
	}
	delete(m.entries, victim)
}

// remove drops k, and makes every value read before it too old to put.
func (m *expiringMap[K, V]) remove(k K) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.generation++
	delete(m.entries, k)
}

// len returns how many entries m holds.
func (m *expiringMap[K, V]) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}
