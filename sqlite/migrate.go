package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/parley-chat/parley/internal/migration"
)

// migrations holds the schema changes, applied in order. A file is named
// NNNN_description.sql, where NNNN is its version. Never edit one that has
// shipped: add a new one.
//
//go:embed migrations/*.sql
var migrations embed.FS

// dialect is SQLite's schema_version.
var dialect = migration.Dialect{
	CreateTable: `CREATE TABLE IF NOT EXISTS schema_version (
		version INTEGER PRIMARY KEY
	) STRICT`,
	Record: `INSERT INTO schema_version (version) VALUES (?)`,
}

// migrate applies the migrations newer than the database's schema_version,
// all in one transaction, so a failed Open leaves the schema as it was and two
// processes opening a new file at once do not both apply them.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback()

	if err := migration.Apply(ctx, migrationTx{tx}, migrations, dialect); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}

// migrationTx is a database/sql transaction as migration.Apply uses it.
type migrationTx struct{ tx *sql.Tx }

func (m migrationTx) Exec(ctx context.Context, query string, args ...any) error {
	_, err := m.tx.ExecContext(ctx, query, args...)
	return err
}

func (m migrationTx) QueryInt(ctx context.Context, query string) (n int, err error) {
	return n, m.tx.QueryRowContext(ctx, query).Scan(&n)
}
