package disk_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/disk"
	"github.com/parley-chat/parley/internal/storetest"
)

func open(t *testing.T, dir string) *disk.Store {
	t.Helper()
	s, err := disk.New(dir)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.RunBlobs(t, func(t *testing.T) parley.BlobStore {
		return open(t, t.TempDir())
	})
}

// TestReopenKeepsEverything: a Store on the same directory, as after a
// restart, continues partial uploads and serves committed contents.
func TestReopenKeepsEverything(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	content := []byte("committed before the restart")
	s := open(t, dir)
	if _, err := s.Append("up_partial", 0, []byte("half")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append("up_done", 0, content); err != nil {
		t.Fatal(err)
	}
	sum := sha256Hex(content)
	if err := s.Commit("up_done", sum); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir)
	if size, err := s.Size("up_partial"); err != nil || size != 4 {
		t.Errorf("Size after reopening = %d, %v; want 4", size, err)
	}
	if size, err := s.Append("up_partial", 4, []byte(" more")); err != nil || size != 9 {
		t.Errorf("Append after reopening = %d, %v; want 9", size, err)
	}
	r, err := s.Open(sum)
	if err != nil {
		t.Fatalf("Open after reopening: %v", err)
	}
	r.Close()
}

// TestIDsStayInside: ids that could name a path elsewhere are refused
// before they reach the file system.
func TestIDsStayInside(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, filepath.Join(dir, "files"))
	for _, id := range []string{"", "../escape", "up/../../escape", "UP_UPPER", "up_\x00", string(make([]byte, 65))} {
		if _, err := s.Append(id, 0, []byte("x")); parley.ErrorCodeOf(err) != parley.ENOTFOUND {
			t.Errorf("Append(%q): %v, want ENOTFOUND", id, err)
		}
		if _, err := s.Size(id); parley.ErrorCodeOf(err) != parley.ENOTFOUND {
			t.Errorf("Size(%q): %v, want ENOTFOUND", id, err)
		}
		if err := s.Commit(id, sha256Hex(nil)); parley.ErrorCodeOf(err) != parley.ENOTFOUND {
			t.Errorf("Commit(%q): %v, want ENOTFOUND", id, err)
		}
	}
	for _, sum := range []string{"../../escape", "zz" + sha256Hex(nil)[2:]} {
		if _, err := s.Open(sum); parley.ErrorCodeOf(err) != parley.ENOTFOUND {
			t.Errorf("Open(%q): %v, want ENOTFOUND", sum, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries beside files/, want none", len(entries)-1)
	}
}
