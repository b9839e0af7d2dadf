// Package disk keeps file contents in a directory: the partial content of
// each upload under uploads/, and verified contents under blobs/, named by
// their SHA-256 so identical files are stored once.
package disk

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/parley-chat/parley"
)

var _ parley.BlobStore = (*Store)(nil)

// Store is a parley.BlobStore in a directory. Writes are synced before they
// are acknowledged.
type Store struct {
	dir string
}

// New returns a Store keeping its files under dir, creating it if needed.
func New(dir string) (*Store, error) {
	for _, sub := range []string{"uploads", "blobs"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("create %s directory: %w", sub, err)
		}
	}
	return &Store{dir: dir}, nil
}

// partPath returns where an upload's partial content lives. Upload ids are
// server-made, but are checked anyway so no id can name a path elsewhere.
func (s *Store) partPath(uploadID string) (string, error) {
	if uploadID == "" || len(uploadID) > 64 {
		return "", parley.Errorf(parley.ENOTFOUND, "upload not found")
	}
	for i := 0; i < len(uploadID); i++ {
		if c := uploadID[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return "", parley.Errorf(parley.ENOTFOUND, "upload not found")
		}
	}
	return filepath.Join(s.dir, "uploads", uploadID+".part"), nil
}

func (s *Store) blobPath(sum string) (string, error) {
	if _, err := hex.DecodeString(sum); err != nil || len(sum) != 64 {
		return "", parley.Errorf(parley.ENOTFOUND, "file content not found")
	}
	return filepath.Join(s.dir, "blobs", sum[:2], sum), nil
}

// Append implements parley.BlobStore.
func (s *Store) Append(uploadID string, offset int64, data []byte) (int64, error) {
	path, err := s.partPath(uploadID)
	if err != nil {
		return 0, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return 0, wrap("open upload part", err)
	}
	defer func() { _ = f.Close() }() // the chunk is synced (checked) before this
	info, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat upload part: %w", err)
	}
	if size := info.Size(); offset != size {
		return size, parley.Errorf(parley.EPRECONDITION, "upload continues at offset %d, not %d", size, offset)
	}
	// A failed write or sync may have left part of the chunk behind: cut
	// it off, so the part ends where the last acknowledged chunk did and
	// the client continues from there (truncating needs no free space).
	if _, err := f.WriteAt(data, offset); err != nil {
		_ = f.Truncate(offset)
		return 0, wrap("write upload part", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Truncate(offset)
		return 0, wrap("sync upload part", err)
	}
	return offset + int64(len(data)), nil
}

// Size implements parley.BlobStore.
func (s *Store) Size(uploadID string) (int64, error) {
	path, err := s.partPath(uploadID)
	if err != nil {
		return 0, err
	}
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("stat upload part: %w", err)
	}
	return info.Size(), nil
}

// Commit implements parley.BlobStore.
func (s *Store) Commit(uploadID, sum string) error {
	part, err := s.partPath(uploadID)
	if err != nil {
		return err
	}
	target, err := s.blobPath(sum)
	if err != nil {
		return err
	}
	got, err := hashFile(part)
	if err != nil {
		return err
	}
	if got != sum {
		_ = os.Remove(part)
		return parley.Errorf(parley.ECORRUPT, "content has SHA-256 %s, announced %s: upload discarded", got, sum)
	}
	if _, err := os.Stat(target); err == nil {
		return os.Remove(part) // the same content is already stored
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return wrap("create blob directory", err)
	}
	if err := os.Rename(part, target); err != nil {
		return wrap("store blob", err)
	}
	return syncDir(filepath.Dir(target))
}

// Discard implements parley.BlobStore.
func (s *Store) Discard(uploadID string) error {
	path, err := s.partPath(uploadID)
	if err != nil {
		return nil //nolint:nilerr // an ID that cannot name a part has no part to discard
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove upload part: %w", err)
	}
	return nil
}

// Open implements parley.BlobStore.
func (s *Store) Open(sum string) (io.ReadSeekCloser, error) {
	path, err := s.blobPath(sum)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, parley.Errorf(parley.ENOTFOUND, "file content not found")
	case err != nil:
		return nil, fmt.Errorf("open blob: %w", err)
	}
	return f, nil
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", parley.Errorf(parley.ENOTFOUND, "upload has no content")
	case err != nil:
		return "", fmt.Errorf("open upload part: %w", err)
	}
	defer func() { _ = f.Close() }() // read only
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash upload part: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	defer func() { _ = d.Close() }() // the Sync error is the one that counts
	if err := d.Sync(); err != nil {
		return wrap("sync directory", err)
	}
	return nil
}
