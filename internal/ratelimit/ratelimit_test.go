package ratelimit_test

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/parley-chat/parley/internal/ratelimit"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestAllow(t *testing.T) {
	t.Parallel()
	k := ratelimit.New(1, 3, 100) // 1 a second, bursts of 3
	for i := range 3 {
		if wait := k.Allow("ada", t0); wait != 0 {
			t.Fatalf("call %d: wait %v, want allowed", i+1, wait)
		}
	}
	if wait := k.Allow("ada", t0); wait != time.Second {
		t.Errorf("4th call: wait %v, want 1s", wait)
	}
	if wait := k.Allow("ada", t0.Add(400*time.Millisecond)); wait != 600*time.Millisecond {
		t.Errorf("after 400ms: wait %v, want 600ms", wait)
	}
	if wait := k.Allow("ada", t0.Add(time.Second)); wait != 0 {
		t.Errorf("after 1s: wait %v, want allowed", wait)
	}
	if wait := k.Allow("bob", t0); wait != 0 {
		t.Errorf("another key: wait %v, want allowed", wait)
	}
	var off *ratelimit.Keyed
	if wait := off.Allow("ada", t0); wait != 0 {
		t.Errorf("nil Keyed: wait %v, want allowed", wait)
	}
}

func TestBeginHoldsTokensUntilTheOutcome(t *testing.T) {
	t.Parallel()
	k := ratelimit.New(rate.Every(time.Minute), 2, 100)
	a1, _ := k.Begin("ada", t0)
	a2, _ := k.Begin("ada", t0)
	if a1 == nil || a2 == nil {
		t.Fatal("first two attempts refused")
	}
	// Both tokens are held: a third attempt at the same time is refused,
	// even though no attempt has failed yet.
	if a3, wait := k.Begin("ada", t0); a3 != nil || wait != time.Minute {
		t.Fatalf("third attempt while two run: %v, wait %v; want refused for 1m", a3, wait)
	}
	a1.Pass(t0) // a success gives its token back
	a3, _ := k.Begin("ada", t0)
	if a3 == nil {
		t.Fatal("attempt after a pass refused")
	}
	a2.Fail(t0)
	a3.Fail(t0)
	if a, wait := k.Begin("ada", t0); a != nil || wait != time.Minute {
		t.Errorf("after two failures: %v, wait %v; want refused for 1m", a, wait)
	}
	if a, _ := k.Begin("ada", t0.Add(time.Minute)); a == nil {
		t.Error("a minute later: refused, want allowed")
	}
}

// TestIdleBucketsAreSwept: buckets that refilled are dropped as other keys
// are used, so the table holds about as many keys as are being limited.
func TestIdleBucketsAreSwept(t *testing.T) {
	t.Parallel()
	k := ratelimit.New(1, 1, 1<<16)
	for i := range 10_000 {
		k.Allow("old"+strconv.Itoa(i), t0)
	}
	later := t0.Add(2 * time.Second) // every bucket has refilled
	for i := range 10_000 {
		k.Allow("new"+strconv.Itoa(i), later)
	}
	if n := k.Len(); n > 10_000+10_000/4 {
		t.Errorf("Len = %d after 10,000 idle and 10,000 new keys, want the idle ones mostly swept", n)
	}
	t.Logf("Len = %d after 10,000 refilled keys and 10,000 new ones", k.Len())
}

// TestFullTableEvictsIdleBucketsFirst: when the table is full, a bucket that
// still holds state survives, although least recently used, while refilled
// ones make room.
func TestFullTableEvictsIdleBucketsFirst(t *testing.T) {
	t.Parallel()
	k := ratelimit.New(1, 1, 16)       // one shard of 16
	victim, _ := k.Begin("victim", t0) // holds the only token
	for i := range 15 {
		k.Allow("idle"+strconv.Itoa(i), t0)
	}
	now := t0.Add(time.Second) // the 15 have refilled; the victim's token is still held
	for i := range 15 {
		k.Allow("new"+strconv.Itoa(i), now)
	}
	if k.Len() > 16 {
		t.Errorf("Len = %d, want at most 16", k.Len())
	}
	if a, _ := k.Begin("victim", now); a != nil {
		t.Error("the victim's bucket was forgotten: attempt allowed, want refused")
	}
	victim.Pass(now)
	if a, _ := k.Begin("victim", now); a == nil {
		t.Error("after the pass: refused, want allowed")
	}
}

// TestBoundedMemory sends a million distinct keys through a table of 65,536
// and prints the heap in use before and after.
func TestBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("a million keys")
	}
	const keys, maxKeys = 1_000_000, 1 << 16
	before := heapInUse()
	k := ratelimit.New(rate.Every(time.Minute), 5, maxKeys)
	begin := time.Now()
	for i := range keys {
		// One failure per key, every key at the same instant: no bucket
		// refills, so nothing is idle and the table must evict.
		k.Allow("203.0.113."+strconv.Itoa(i), t0)
	}
	took := time.Since(begin)
	after := heapInUse()
	runtime.KeepAlive(k)
	grew := float64(after-before) / (1 << 20)
	t.Logf("%d distinct keys into a table of %d: %d buckets kept, heap in use %.1f MiB before, %.1f MiB after (+%.1f MiB), %v (%.0f ns a key)",
		keys, maxKeys, k.Len(), float64(before)/(1<<20), float64(after)/(1<<20), grew, took.Round(time.Millisecond), float64(took.Nanoseconds())/keys)
	if n := k.Len(); n > maxKeys {
		t.Errorf("Len = %d, want at most %d", n, maxKeys)
	}
	if grew > 32 {
		t.Errorf("heap grew %.1f MiB for %d buckets, want under 32 MiB", grew, maxKeys)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func TestSet(t *testing.T) {
	t.Parallel()
	s := ratelimit.NewSet(100)
	s.Add("ada@127.0.0.1", t0.Add(time.Hour), t0)
	if !s.Has("ada@127.0.0.1", t0.Add(59*time.Minute)) {
		t.Error("key missing before it expires")
	}
	if s.Has("ada@127.0.0.1", t0.Add(time.Hour)) {
		t.Error("key present once expired")
	}
	if s.Has("bob@127.0.0.1", t0) {
		t.Error("a key never added is present")
	}
	var none *ratelimit.Set
	none.Add("x", t0.Add(time.Hour), t0)
	if none.Has("x", t0) {
		t.Error("nil Set has a key")
	}
}

// hotRate refills at once: a hot key is allowed on every call.
const hotRate = rate.Limit(1e15)

// BenchmarkAllowHotKey is one key used over and over: the cost of a limit
// on every call.
func BenchmarkAllowHotKey(b *testing.B) {
	k := ratelimit.New(hotRate, 1, 1<<16)
	now := time.Now()
	for b.Loop() {
		k.Allow("u_hot", now)
	}
}

// BenchmarkAllowHotKeyParallel is the same key from every core.
func BenchmarkAllowHotKeyParallel(b *testing.B) {
	k := ratelimit.New(hotRate, 1, 1<<16)
	now := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k.Allow("u_hot", now)
		}
	})
}

// BenchmarkAllowDistinctKeys is a new key on every call into a full table:
// each call evicts.
func BenchmarkAllowDistinctKeys(b *testing.B) {
	k := ratelimit.New(rate.Every(time.Minute), 5, 1<<16)
	keys := make([]string, 1<<20)
	for i := range keys {
		keys[i] = "203.0.113." + strconv.Itoa(i)
	}
	now := time.Now()
	i := 0
	for b.Loop() {
		k.Allow(keys[i&(len(keys)-1)], now)
		i++
	}
}
