package main

import (
	"fmt"
	"path/filepath"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/disk"
	"github.com/parley-chat/parley/server"
)

// fileStorage enables uploads when the store keeps file metadata: contents
// go to --data-dir/files. Only the SQLite engine does so for now, since a
// replica's local disk is no place for files other replicas must serve.
func fileStorage(cfg config, store parley.Store) ([]server.Option, error) {
	files, ok := store.(parley.FileStore)
	if !ok {
		return nil, nil
	}
	blobs, err := disk.New(filepath.Join(cfg.dataDir, "files"))
	if err != nil {
		return nil, fmt.Errorf("open file storage: %w", err)
	}
	return []server.Option{server.WithFiles(files, blobs)}, nil
}
