package ratelimit

import (
	"hash/maphash"
	"sync"
	"time"
)

// table maps keys to values in at most maxKeys entries: sharded maps, each
// shard a least-recently-used list. Values that idle says carry no
// information (a full bucket, an expired mark) are swept as they reach the
// back of their list, and preferred when a full shard must make room.
type table[V any] struct {
	seed   maphash.Seed
	shards []shard[V]
	idle   func(v *V, now time.Time) bool
}

type shard[V any] struct {
	mu      sync.Mutex
	entries map[string]*entry[V]
	lru     entry[V] // sentinel: lru.next is the most recently used, lru.prev the least
	max     int
}

type entry[V any] struct {
	key        string
	prev, next *entry[V]
	value      V
}

// Sweeping and eviction look at a few entries at the back of a shard's list
// per call, so every call costs the same whatever the table holds.
const (
	sweepPerCall = 2 // idle entries dropped from the back on each use
	evictScan    = 8 // entries looked at for an idle one when a shard is full
	minPerShard  = 16
	maxShards    = 64
)

func newTable[V any](maxKeys int, idle func(*V, time.Time) bool) *table[V] {
	maxKeys = max(maxKeys, 1)
	n := maxShards
	for n > 1 && maxKeys/n < minPerShard {
		n /= 2
	}
	t := &table[V]{seed: maphash.MakeSeed(), shards: make([]shard[V], n), idle: idle}
	for i := range t.shards {
		s := &t.shards[i]
		s.entries = make(map[string]*entry[V])
		s.lru.next, s.lru.prev = &s.lru, &s.lru
		s.max = maxKeys / n // so the shards hold at most maxKeys in all
	}
	return t
}

func (t *table[V]) shard(key string) *shard[V] {
	return &t.shards[maphash.String(t.seed, key)&uint64(len(t.shards)-1)] //nolint:gosec // a length is never negative
}

// update runs f on key's value under its shard's lock, creating the value
// with init first if there is none (f then gets created true). The entry
// becomes the most recently used.
func (t *table[V]) update(key string, now time.Time, init func(*V), f func(v *V, created bool)) {
	s := t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	s.sweep(now, t.idle, e)
	switch {
	case ok && s.lru.next == e: // already the most recent (a hot key)
	case ok:
		s.unlink(e)
		s.pushFront(e)
	default:
		if len(s.entries) >= s.max {
			s.evict(now, t.idle)
		}
		e = &entry[V]{key: key}
		init(&e.value)
		s.entries[key] = e
		s.pushFront(e)
	}
	f(&e.value, !ok)
}

// peek runs f on key's value, if there is one, without making it recent.
func (t *table[V]) peek(key string, f func(v *V)) bool {
	s := t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	if ok {
		f(&e.value)
	}
	return ok
}

// len counts the entries.
func (t *table[V]) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.entries)
		s.mu.Unlock()
	}
	return n
}

// sweep drops idle entries from the back of the list, but not keep (the
// entry about to be used).
func (s *shard[V]) sweep(now time.Time, idle func(*V, time.Time) bool, keep *entry[V]) {
	for range sweepPerCall {
		e := s.lru.prev
		if e == &s.lru || e == keep || !idle(&e.value, now) {
			return
		}
		s.remove(e)
	}
}

// evict makes room: an idle entry near the back if there is one (nothing is
// lost), else the least recently used.
func (s *shard[V]) evict(now time.Time, idle func(*V, time.Time) bool) {
	e := s.lru.prev
	for i, c := 0, e; i < evictScan && c != &s.lru; i, c = i+1, c.prev {
		if idle(&c.value, now) {
			e = c
			break
		}
	}
	if e != &s.lru {
		s.remove(e)
	}
}

func (s *shard[V]) remove(e *entry[V]) {
	s.unlink(e)
	delete(s.entries, e.key)
}

func (s *shard[V]) unlink(e *entry[V]) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (s *shard[V]) pushFront(e *entry[V]) {
	e.prev, e.next = &s.lru, s.lru.next
	s.lru.next.prev = e
	s.lru.next = e
}
