// Package striped serialises work per key with a fixed set of mutexes, so
// memory does not grow with the number of keys.
package striped

import (
	"hash/maphash"
	"sync"
)

// Locks is 256 mutexes chosen by a hash of the key. Keys that share a
// stripe only share a lock. The zero value is ready to use.
type Locks struct {
	seed    maphash.Seed
	once    sync.Once
	stripes [256]sync.Mutex
}

// Lock locks key's stripe and returns its unlock.
func (l *Locks) Lock(key string) (unlock func()) {
	l.once.Do(func() { l.seed = maphash.MakeSeed() })
	mu := &l.stripes[maphash.String(l.seed, key)%uint64(len(l.stripes))]
	mu.Lock()
	return mu.Unlock
}
