package disk

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/parley-chat/parley"
)

var _ parley.WriteProber = (*Store)(nil)

// probeBytes is the size of ProbeWrite's file: a write of that size must
// fit for the store to count as writable again.
const probeBytes = 64 << 10

// ProbeWrite implements parley.WriteProber: it writes and syncs a file of
// 64 KiB in the store's directory and removes it. It fails with
// parley.ErrStorageFull while the file system has no room for it.
func (s *Store) ProbeWrite(context.Context) error {
	path := filepath.Join(s.dir, "probe.tmp")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return wrap("probe write", err)
	}
	_, werr := f.Write(make([]byte, probeBytes))
	if werr == nil {
		werr = f.Sync()
	}
	err = errors.Join(werr, f.Close(), os.Remove(path))
	if err != nil {
		return wrap("probe write", err)
	}
	return nil
}
