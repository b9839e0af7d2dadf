package disk_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/disk"
)

// TestAppendDiskFull writes an upload part that is /dev/full, which fails
// every write with ENOSPC: Append reports parley.ErrStorageFull with the
// cause in the chain. (cmd/parleyd's TestDiskFull fills a real file
// system, and checks that the part keeps only acknowledged chunks.)
func TestAppendDiskFull(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full:", err)
	}
	dir := t.TempDir()
	s, err := disk.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/full", filepath.Join(dir, "uploads", "up_full.part")); err != nil {
		t.Fatal(err)
	}
	_, err = s.Append("up_full", 0, []byte("chunk"))
	if parley.ErrorCodeOf(err) != parley.ESTORAGEFULL || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Append to a full disk: %v (code %q), want %q wrapping ENOSPC", err, parley.ErrorCodeOf(err), parley.ESTORAGEFULL)
	}
	if err := s.ProbeWrite(t.Context()); err != nil {
		t.Errorf("ProbeWrite on a disk with room: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("ProbeWrite left files behind: %v", entries)
	}
}
