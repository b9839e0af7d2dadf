package server

import (
	"crypto/sha256"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

// TestExpiringMap: entries are trusted for the age each lookup allows, the
// map never holds more than its limit, a full map evicts an old entry
// rather than a new one, and a value read before a removal is not put.
func TestExpiringMap(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	t.Run("MaxAge", func(t *testing.T) {
		m := newExpiringMap[string, int](4)
		m.put("a", 1, t0, m.begin())
		if v, ok := m.get("a", t0.Add(time.Second-1), time.Second); !ok || v != 1 {
			t.Errorf("get within max age = %d, %t; want 1, true", v, ok)
		}
		if _, ok := m.get("a", t0.Add(time.Second), time.Second); ok {
			t.Error("get at max age found the entry")
		}
		if _, ok := m.get("a", t0.Add(-1), time.Second); ok {
			t.Error("get before the load (a clock gone back) found the entry")
		}
	})
	t.Run("Bounded", func(t *testing.T) {
		const limit = 100
		m := newExpiringMap[int, int](limit)
		fresh := -1
		m.put(fresh, 0, t0.Add(time.Hour), m.begin())
		for i := range 10 * limit {
			m.put(i, i, t0.Add(time.Duration(i)), m.begin())
			if m.len() > limit {
				t.Fatalf("%d entries after %d puts, want at most %d", m.len(), i+2, limit)
			}
		}
		// Each eviction took the oldest of several entries: never the one
		// loaded last.
		if _, ok := m.get(fresh, t0.Add(time.Hour), time.Hour); !ok {
			t.Error("the most recently loaded entry was evicted")
		}
	})
	t.Run("RemovalWins", func(t *testing.T) {
		m := newExpiringMap[string, int](4)
		before := m.begin()
		m.remove("other") // any removal: the value may be what it removed
		m.put("a", 1, t0, before)
		if _, ok := m.get("a", t0, time.Hour); ok {
			t.Error("a value read before a removal was put after it")
		}
		m.put("a", 1, t0, m.begin())
		m.remove("a")
		if _, ok := m.get("a", t0, time.Hour); ok {
			t.Error("a removed entry was found")
		}
	})
	t.Run("Off", func(t *testing.T) {
		c := newAuthCache(0, 100)
		c.sessions.put("a", cachedSession{}, t0, c.sessions.begin())
		if c.sessions.len() != 0 || c.ttl != 0 {
			t.Error("a cache with TTL 0 kept an entry")
		}
	})
}

// BenchmarkAuthCacheFull prints the heap a full auth cache holds: the
// default number of sessions and of memberships, with ids as the stores
// make them (28 bytes), 32-character usernames and room names, so the
// "about 47 MiB" of DefaultAuthCacheEntries is a figure, not a guess.
func BenchmarkAuthCacheFull(b *testing.B) {
	id := func(prefix string, i int) string { return fmt.Sprintf("%s%026d", prefix, i) }
	var heap float64
	for b.Loop() {
		before := heapInUse()
		c := newAuthCache(DefaultAuthCacheTTL, DefaultAuthCacheEntries)
		now := time.Now()
		for i := range DefaultAuthCacheEntries {
			hash := sha256.Sum256([]byte(id("t_", i)))
			user := parley.User{ID: id("u_", i), Username: fmt.Sprintf("%032d", i), CreateTime: now}
			c.sessions.put(string(hash[:]), cachedSession{user: user, expires: now}, now, c.sessions.begin())
			room := parley.Room{ID: id("r_", i), Name: fmt.Sprintf("%032d", i), CreatorID: user.ID, CreateTime: now}
			c.members.put(membershipKey{user: user.ID, room: room.ID}, room, now, c.members.begin())
		}
		heap = float64(heapInUse() - before)
		runtime.KeepAlive(c)
	}
	b.ReportMetric(heap/(1<<20), "MiB/full")
	b.ReportMetric(heap/(2*DefaultAuthCacheEntries), "B/entry")
}

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
