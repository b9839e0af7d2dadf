// Package sqlite is a parley.Store on SQLite, using the pure-Go driver
// modernc.org/sqlite so the server builds without cgo.
//
// A Store holds two pools on one database file: a single connection for
// writes, because SQLite allows one writer at a time and queueing writers in
// database/sql is cheaper and fairer than letting them collide on
// SQLITE_BUSY, and a small pool of read-only connections, so that in WAL mode
// reads never wait behind a write.
//
// Times are stored as integer Unix nanoseconds in UTC and come back as UTC
// time.Time values equal to the ones stored.
package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/parley-chat/parley"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

var _ parley.Store = (*Store)(nil)

// readConns is the size of the read pool.
const readConns = 4

// pragmas are applied to every connection, in both pools.
//
// synchronous(FULL): in WAL mode NORMAL already survives kill -9, because a
// commit's WAL frames reach the OS before COMMIT returns; FULL also fsyncs
// the WAL on every commit, so a message AppendMessage acknowledged survives
// an OS crash or power cut too (disks that lie about fsync aside). One fsync
// per write is worth it: a client that got an ack drops its pending copy, so
// a chat that forgets acknowledged messages loses them for good.
var pragmas = []string{
	"busy_timeout(10000)", // other processes holding the file: wait, don't fail
	"foreign_keys(1)",
	"journal_mode(WAL)",
	"synchronous(FULL)",
}

// Store is a parley.Store on one SQLite database file. It is safe for
// concurrent use.
type Store struct {
	write *preparedDB // one connection: SQLite has a single writer
	read  *preparedDB // query_only connections
	now   func() time.Time
	obs   *parley.Observer

	appends       chan *appendRequest // to the group committer (append.go)
	heads         headSeqs            // the committer's copy of rooms.head_seq
	closing       chan struct{}       // closed by Close
	closeOnce     sync.Once
	committerDone chan struct{} // closed when the committer has stopped
}

// Option configures a Store.
type Option interface {
	apply(*Store)
}

type optionFunc func(*Store)

func (f optionFunc) apply(s *Store) { f(s) }

// WithNow sets the clock that stamps new users, rooms, memberships and
// messages, so tests need not sleep.
//
// By default, the Store uses time.Now.
func WithNow(now func() time.Time) Option {
	return optionFunc(func(s *Store) { s.now = now })
}

// WithObserver tells o about each group commit (parley.Observer.Commit).
// By default, nothing is observed.
func WithObserver(o *parley.Observer) Option {
	return optionFunc(func(s *Store) {
		if o != nil {
			s.obs = o
		}
	})
}

// Open opens the SQLite database at path, creating the file if needed, and
// applies any migrations it has not seen yet. The caller must Close the Store.
//
// path is a file path; it may not contain '?', and ":memory:" is not
// supported because the read and write pools must share the database.
//
// By default, the Store has one write connection and 4 read connections, each
// with busy_timeout 10s, foreign keys on, WAL journal and synchronous FULL.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	if path == "" || path == ":memory:" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("open sqlite: unsupported path %q", path)
	}
	s := &Store{now: time.Now, obs: &parley.Observer{}}
	for _, o := range opts {
		o.apply(s)
	}

	// BEGIN IMMEDIATE takes the write lock up front; a deferred transaction
	// that reads and then writes could fail with SQLITE_BUSY if another
	// process wrote in between.
	write, err := sql.Open("sqlite", dsn(path, "_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	s.write = newPreparedDB(write)
	// Migrate before the read pool exists, so readers never see an empty file.
	if err := migrate(ctx, write); err != nil {
		_ = write.Close() // the migration error is the one to report
		return nil, err
	}

	read, err := sql.Open("sqlite", dsn(path, "_pragma=query_only(1)"))
	if err != nil {
		_ = write.Close() // the open error is the one to report
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	read.SetMaxOpenConns(readConns)
	read.SetMaxIdleConns(readConns) // keep them: a new connection re-runs the pragmas
	s.read = newPreparedDB(read)
	s.appends = make(chan *appendRequest, maxAppendBatch)
	s.closing = make(chan struct{})
	s.committerDone = make(chan struct{})
	go s.commitAppends()
	if err := read.PingContext(ctx); err != nil {
		_ = s.Close() // the ping error is the one to report
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	return s, nil
}

func dsn(path string, extra ...string) string {
	params := extra
	for _, p := range pragmas {
		params = append(params, "_pragma="+p)
	}
	return path + "?" + strings.Join(params, "&")
}

// Ping reports whether both pools can reach the database. It waits for the
// write connection, so it fails once ctx ends while writes are stuck.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	if err := s.write.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	return nil
}

// Close stops the group committer, failing appends still queued, and
// closes both pools. Other operations under way may fail.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	<-s.committerDone
	return errors.Join(s.read.Close(), s.write.Close())
}

// querier is what reads need, from a pool or a transaction.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// execer is what writes need, from the write pool or a write transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// execCount runs query on db and returns how many rows it changed; what
// names the statement in the error.
func execCount(ctx context.Context, db execer, what, query string, args ...any) (int64, error) {
	res, err := db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return n, nil
}

// queryAll runs query on db and returns its rows as scan reads them; what
// names the query in the error.
func queryAll[T any](ctx context.Context, db *preparedDB, what string, scan func(row interface{ Scan(...any) error }) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var all []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		all = append(all, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return all, nil
}

// newID returns a random opaque id: prefix followed by 26 lowercase base32
// characters (128 random bits).
func newID(prefix string) string {
	return prefix + strings.ToLower(rand.Text())
}

// nanos is how times are stored.
func nanos(t time.Time) int64 { return t.UnixNano() }

// fromNanos is the inverse of nanos.
func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// stamp returns the store's current time as it will read back.
func (s *Store) stamp() (time.Time, int64) {
	n := nanos(s.now())
	return fromNanos(n), n
}
