package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"sync"
)

// preparedDB is a pool that runs each query text through a prepared
// statement kept for the life of the Store: SQLite's parser otherwise runs
// for every call and was the largest cost of a send (a quarter of the CPU
// of a SendMessage). Statements are few and fixed (the package's own
// query texts), so the cache has no bound.
//
// A query first seen inside a transaction runs unprepared and is prepared
// after the transaction ends: preparing needs a free connection, and the
// write pool's only one is the transaction's.
type preparedDB struct {
	*sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func newPreparedDB(db *sql.DB) *preparedDB {
	return &preparedDB{DB: db, stmts: map[string]*sql.Stmt{}}
}

// cached returns the prepared statement for query, or nil.
func (d *preparedDB) cached(query string) *sql.Stmt {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stmts[query]
}

// prepare returns the prepared statement for query, preparing it on a
// connection of the pool if needed. Outside transactions only.
func (d *preparedDB) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := d.cached(query); st != nil {
		return st, nil
	}
	st, err := d.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if prev := d.stmts[query]; prev != nil {
		_ = st.Close() // another caller was first; this copy was never used
		return prev, nil
	}
	d.stmts[query] = st
	return st, nil
}

func (d *preparedDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := d.prepare(ctx, query)
	if err != nil {
		return d.DB.QueryRowContext(ctx, query, args...) // reports the error
	}
	return st.QueryRowContext(ctx, args...)
}

func (d *preparedDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := d.prepare(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// ExecContext runs a statement; SQLITE_FULL comes back as
// parley.ErrStorageFull (see classify), as from every write path.
func (d *preparedDB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := d.prepare(ctx, query)
	if err != nil {
		return nil, classify(err)
	}
	res, err := st.ExecContext(ctx, args...)
	return res, classify(err)
}

// BeginTx starts a transaction whose queries use the pool's prepared
// statements.
func (d *preparedDB) BeginTx(ctx context.Context, opts *sql.TxOptions) (*preparedTx, error) {
	tx, err := d.DB.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &preparedTx{Tx: tx, db: d}, nil
}

// Close closes the statements and the pool.
func (d *preparedDB) Close() error {
	d.mu.Lock()
	var errs []error
	for q, st := range d.stmts {
		errs = append(errs, st.Close())
		delete(d.stmts, q)
	}
	d.mu.Unlock()
	return errors.Join(append(errs, d.DB.Close())...)
}

// preparedTx is a transaction of a preparedDB.
type preparedTx struct {
	*sql.Tx
	db     *preparedDB
	stmts  map[string]*sql.Stmt // the transaction's handles, closed with it
	missed []string             // queries to prepare once the transaction has ended
}

// stmt returns the transaction's handle on query's prepared statement, or
// nil if it is not prepared yet. A group commit runs the same few
// statements for every message, so the handle is made once per
// transaction.
func (t *preparedTx) stmt(ctx context.Context, query string) *sql.Stmt {
	if st := t.stmts[query]; st != nil {
		return st
	}
	st := t.db.cached(query)
	if st == nil {
		if !slices.Contains(t.missed, query) {
			t.missed = append(t.missed, query)
		}
		return nil
	}
	if t.stmts == nil {
		t.stmts = map[string]*sql.Stmt{}
	}
	t.stmts[query] = t.Tx.StmtContext(ctx, st)
	return t.stmts[query]
}

func (t *preparedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}

func (t *preparedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

func (t *preparedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil {
		res, err := st.ExecContext(ctx, args...)
		return res, classify(err)
	}
	res, err := t.Tx.ExecContext(ctx, query, args...)
	return res, classify(err)
}

// Commit commits; in WAL mode that is where a write needs new space, so
// SQLITE_FULL comes back as parley.ErrStorageFull.
func (t *preparedTx) Commit() error {
	err := t.Tx.Commit()
	t.prepareMissed()
	return classify(err)
}

func (t *preparedTx) Rollback() error {
	err := t.Tx.Rollback()
	t.prepareMissed()
	return err
}

// prepareMissed prepares the queries the transaction ran unprepared. A
// failure only means they stay unprepared for now.
func (t *preparedTx) prepareMissed() {
	for _, q := range t.missed {
		_, _ = t.db.prepare(context.Background(), q)
	}
	t.missed = nil
}
