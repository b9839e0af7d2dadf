// Package migration applies an engine's numbered SQL migrations, the same
// way in every engine: in one transaction the engine opens, each migration
// newer than the highest version recorded in the schema_version table, in
// version order, each recorded as it is applied.
package migration

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Tx is what Apply needs of the engine's transaction, whatever its driver.
type Tx interface {
	// Exec runs a statement.
	Exec(ctx context.Context, query string, args ...any) error
	// QueryInt runs a query that returns one integer.
	QueryInt(ctx context.Context, query string) (int, error)
}

// Dialect is the SQL that differs between engines.
type Dialect struct {
	// CreateTable creates schema_version (version integer PRIMARY KEY)
	// if it does not exist.
	CreateTable string
	// Record inserts the version given as its one parameter.
	Record string
}

// Apply creates schema_version if needed and applies, in tx, the files
// migrations/NNNN_description.sql of fsys whose version NNNN is newer than
// any it records. The caller commits tx; a failed Apply leaves it to be
// rolled back, so the schema stays as it was.
func Apply(ctx context.Context, tx Tx, fsys fs.FS, d Dialect) error {
	files, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(files)
	if err := tx.Exec(ctx, d.CreateTable); err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	current, err := tx.QueryInt(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`)
	if err != nil {
		return fmt.Errorf("read schema_version: %w", err)
	}
	for _, name := range files {
		version, err := fileVersion(name)
		if err != nil {
			return err
		}
		if version <= current {
			continue
		}
		script, err := fs.ReadFile(fsys, name)
		if err != nil {
			return fmt.Errorf("read migration %s: %w", name, err)
		}
		if err := tx.Exec(ctx, string(script)); err != nil {
			return fmt.Errorf("apply migration %s: %w", name, err)
		}
		if err := tx.Exec(ctx, d.Record, version); err != nil {
			return fmt.Errorf("record migration %s: %w", name, err)
		}
	}
	return nil
}

// fileVersion returns the number that prefixes a migration file name.
func fileVersion(name string) (int, error) {
	prefix, _, _ := strings.Cut(path.Base(name), "_")
	version, err := strconv.Atoi(prefix)
	if err != nil || version <= 0 {
		return 0, fmt.Errorf("migration %s: name must start with a positive version number", name)
	}
	return version, nil
}
