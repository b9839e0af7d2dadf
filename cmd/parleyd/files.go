package main

import (
	"fmt"
	"path/filepath"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/disk"
	"github.com/parley-chat/parley/postgres"
	"github.com/parley-chat/parley/server"
	"github.com/parley-chat/parley/sqlite"
)

// fileStorage enables uploads, with file metadata in the store and contents
// where every replica that serves the files reaches them:
//   - with --db, both in PostgreSQL (contents as chunk rows, postgres.Blobs),
//     so an upload started on one replica continues on any other and a file
//     downloads from any;
//   - otherwise contents go to --data-dir/files, beside the SQLite database.
func fileStorage(cfg config, store parley.Store) ([]server.Option, error) {
	switch s := store.(type) {
	case *postgres.Store:
		return []server.Option{server.WithFiles(s, postgres.NewBlobs(s))}, nil
	case *sqlite.Store:
		blobs, err := disk.New(filepath.Join(cfg.dataDir, "files"))
		if err != nil {
			return nil, fmt.Errorf("open file storage: %w", err)
		}
		return []server.Option{server.WithFiles(s, blobs)}, nil
	}
	return nil, fmt.Errorf("no file storage for a %T store", store)
}
