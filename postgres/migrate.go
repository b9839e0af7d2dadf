package postgres

import (
	"context"
	"embed"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parley-chat/parley/internal/migration"
)

// migrations holds the schema changes, applied in order. A file is named
// NNNN_description.sql, where NNNN is its version. Never edit one that has
// shipped: add a new one.
//
//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the key of the transaction-level advisory lock that
// serialises migrations, so replicas starting together apply each one once.
const migrationLock = 0x7061726c6579 // "parley"

// dialect is PostgreSQL's schema_version.
var dialect = migration.Dialect{
	CreateTable: `CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY)`,
	Record:      `INSERT INTO schema_version (version) VALUES ($1)`,
}

// migrate applies the migrations newer than the schema's schema_version, all
// in one transaction, in the first schema of the search_path.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return wrap("begin migration", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return wrap("lock migrations", err)
	}
	if err := migration.Apply(ctx, migrationTx{tx}, migrations, dialect); err != nil {
		return wrap("migrate", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return wrap("commit migration", err)
	}
	return nil
}

// migrationTx is a pgx transaction as migration.Apply uses it.
type migrationTx struct{ tx pgx.Tx }

func (m migrationTx) Exec(ctx context.Context, query string, args ...any) error {
	_, err := m.tx.Exec(ctx, query, args...)
	return err
}

func (m migrationTx) QueryInt(ctx context.Context, query string) (n int, err error) {
	return n, m.tx.QueryRow(ctx, query).Scan(&n)
}
