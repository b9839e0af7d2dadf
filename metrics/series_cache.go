package metrics

import (
	"maps"
	"sync"
	"sync/atomic"
)

// seriesCache maps a label value (a procedure, a store operation) to what
// was made for it, for lookups on every call: a lookup takes no lock and
// hashes the key once (sync.Map hashes it as an interface, its type and
// then its bytes). A new key copies the map, so the keys must be few and
// bounded, as label values are.
type seriesCache[V any] struct {
	mu sync.Mutex                   // held to add a key
	m  atomic.Pointer[map[string]V] // never modified once stored
}

// load returns key's value, if it has one.
func (c *seriesCache[V]) load(key string) (V, bool) {
	if m := c.m.Load(); m != nil {
		v, ok := (*m)[key]
		return v, ok
	}
	var zero V
	return zero, false
}

// loadOrMake returns key's value, made by newValue (once) if it has none.
func (c *seriesCache[V]) loadOrMake(key string, newValue func() V) V {
	if v, ok := c.load(key); ok {
		return v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.load(key); ok {
		return v
	}
	next := map[string]V{}
	if old := c.m.Load(); old != nil {
		next = maps.Clone(*old)
	}
	v := newValue()
	next[key] = v
	c.m.Store(&next)
	return v
}
