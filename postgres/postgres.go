// Package postgres is a parley.Store on PostgreSQL (driver
// github.com/jackc/pgx/v5), for running several parleyd replicas on one
// database, and a parley.Broker that fans messages out across those replicas
// with LISTEN/NOTIFY.
//
// Every message append bumps its room's head_seq with an UPDATE that
// row-locks the room until commit, so writers of one room on any number of
// replicas get contiguous seqs; the same transaction sends a notification
// (room, seq) on the channel NotifyChannel, which PostgreSQL delivers only
// if it commits.
//
// Times are timestamptz: microsecond precision. The Store truncates the
// times it stamps to microseconds, so what it returns reads back unchanged.
//
// Errors that mean the database cannot be reached (a refused dial, a lost
// connection, a terminated backend) carry parley.EUNAVAILABLE, so clients
// see unavailable and retry; everything else unexpected is EINTERNAL.
package postgres

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/striped"
)

var _ parley.Store = (*Store)(nil)

// NotifyChannel is the channel AppendMessage notifies on, with the payload
// "ROOM_ID:SEQ". Channels are per database, not per schema: stores in
// different schemas of one database hear each other's notifications, which
// costs a lookup that finds nothing.
const NotifyChannel = "parley_events"

// Defaults of the connection settings that the URL does not set.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultMaxConns       = 20
)

// Store is a parley.Store on a PostgreSQL database. It is safe for
// concurrent use.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time
	obs  *parley.Observer
	// rooms serialises this process's appends per room (message.go), so
	// they queue here rather than each holding a pool connection while
	// waiting on the room's row lock, and publish in seq order.
	rooms striped.Locks
}

// Option configures a Store.
type Option interface {
	apply(*Store)
}

type optionFunc func(*Store)

func (f optionFunc) apply(s *Store) { f(s) }

// WithNow sets the clock that stamps users, rooms, memberships and messages.
// By default, time.Now.
func WithNow(now func() time.Time) Option {
	return optionFunc(func(s *Store) { s.now = now })
}

// WithObserver tells o about each transaction that appends a message
// (parley.Observer.Commit) and about the notifications and catch-up reads
// of the Broker over this Store. By default, nothing is observed.
func WithObserver(o *parley.Observer) Option {
	return optionFunc(func(s *Store) {
		if o != nil {
			s.obs = o
		}
	})
}

// Open connects to the database at url (postgres://user@host:port/db?...,
// or key=value pairs), applies pending migrations in the first schema of
// the search_path and returns a Store. Several processes may open the same
// database at once: migrations take an advisory lock.
//
// The URL's parameters are pgx's: pool_max_conns, connect_timeout,
// search_path, application_name and so on. By default, a Store has up to
// DefaultMaxConns connections and gives up dialing after
// DefaultConnectTimeout, so calls fail with EUNAVAILABLE rather than hang
// while the database is unreachable.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse postgres url: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	if !strings.Contains(url, "connect_timeout") {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "parleyd"
	}
	s := &Store{now: time.Now, obs: &parley.Observer{}}
	for _, o := range opts {
		o.apply(s)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	s.pool = pool
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return s, nil
}

// Ping reports whether the database answers, on a pooled connection.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return wrap("ping postgres", err)
	}
	return nil
}

// Close closes the pool, waiting for connections in use to be released.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// queryAll runs query on db and returns its rows as scan reads them; what
// names the query in the error.
func queryAll[T any](ctx context.Context, db *pgxpool.Pool, what string, scan func(pgx.Row) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return nil, wrap(what, err)
	}
	all, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
	if err != nil {
		return nil, wrap(what, err)
	}
	return all, nil
}

// newID returns a random opaque id: prefix followed by 26 lowercase base32
// characters (128 random bits).
func newID(prefix string) string {
	return prefix + strings.ToLower(rand.Text())
}

// stamp returns the store's current time as it will read back: UTC,
// truncated to PostgreSQL's microseconds.
func (s *Store) stamp() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}
