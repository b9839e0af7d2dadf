package parley

import "context"

// WriteProber is implemented by stores that can tell whether a write would
// succeed now. After a write failed with ESTORAGEFULL, the server probes
// until one succeeds, and reports itself not serving meanwhile.
type WriteProber interface {
	// ProbeWrite makes one small durable write (and undoes it where it
	// can): nil when there is room for it, an error wrapping
	// ErrStorageFull while there is not.
	ProbeWrite(ctx context.Context) error
}
