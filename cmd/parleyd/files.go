package main

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/disk"
	"github.com/parley-chat/parley/server"
)

// fileStorage enables uploads when the store keeps file metadata: contents
// go to --data-dir/files. Only the SQLite engine does so for now, since a
// replica's local disk is no place for files other replicas must serve;
// with --db (PostgreSQL) uploads are off, and fileStorage logs a warning
// saying so, since clients only learn it from an unimplemented error.
func fileStorage(cfg config, store parley.Store, logger *slog.Logger) ([]server.Option, error) {
	files, ok := store.(parley.FileStore)
	if !ok {
		logger.Warn("uploads are off: the PostgreSQL store (--db) keeps no files yet, so FileService answers unimplemented and messages cannot have attachments; run without --db for uploads")
		return nil, nil
	}
	blobs, err := disk.New(filepath.Join(cfg.dataDir, "files"))
	if err != nil {
		return nil, fmt.Errorf("open file storage: %w", err)
	}
	return []server.Option{server.WithFiles(files, blobs)}, nil
}
