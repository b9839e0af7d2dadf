package server

import (
	"testing"
	"time"
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
