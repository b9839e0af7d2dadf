package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the driver Parley's sqlite package uses, at its version

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/sqlite"
)

// peerSQLiteAppend is SQLite's own append floor for durable sends:
// Parley's two insert statements for a message (messages and room_events,
// as sqlite/message.go writes them), k messages per transaction and the
// room's head seq updated once per commit, on a database that
// sqlite.Open created (Parley's schema and indexes) and a connection with
// Parley's DSN (BEGIN IMMEDIATE, WAL, synchronous FULL: an fsync per
// commit). One goroutine appends in a closed loop, so nothing of Parley
// runs: no RPC, session, membership or idempotency check, savepoint or
// group committer. "append K SECONDS" on stdin appends for that long
// and answers "APPENDED messages commits p50_us p99_us", the latency being
// each commit's, from BEGIN to COMMIT's return.
const peerSQLiteAppend = "sqlite-append"

// sqliteDSN is sqlite.Open's write connection's DSN (sqlite/sqlite.go).
const sqliteDSN = "?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"

// Parley's statements (sqlite/message.go, sqlite/log.go).
const (
	sqlInsertMessage = `
		INSERT INTO messages (id, room_id, seq, sender_id, text, client_message_id, create_time, attachments)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	sqlInsertEvent = `
		INSERT INTO room_events (room_id, seq, kind, user_id, actor_id, message_id, text, create_time)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	sqlSetHead = `UPDATE rooms SET head_seq = ? WHERE id = ?`
)

// sqliteFloor is the peer's database and the room it appends to.
type sqliteFloor struct {
	db                     *sql.DB
	insMsg, insEvt, setHed *sql.Stmt
	room, user             string
	seq                    int64
}

// newSQLiteFloor creates the database in a temporary directory that
// closeFn removes.
func newSQLiteFloor() (cmds peerCommands, closeFn func(), err error) {
	dir, err := os.MkdirTemp("", "parley-bench-sqlite-")
	if err != nil {
		return nil, nil, err
	}
	closeFn = func() { _ = os.RemoveAll(dir) } // a temporary directory
	f, err := openSQLiteFloor(filepath.Join(dir, "parley.db"))
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	closeFn = func() {
		_ = f.db.Close()      // the peer is exiting
		_ = os.RemoveAll(dir) // a temporary directory
	}
	return peerCommands{"append": f.command}, closeFn, nil
}

func openSQLiteFloor(path string) (*sqliteFloor, error) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	u, err := store.CreateUser(ctx, "durable", []byte("unused"))
	if err != nil {
		_ = store.Close() // the create error is the one to report
		return nil, err
	}
	r, err := store.CreateRoom(ctx, "durable", parley.Public, u.ID)
	if err != nil {
		_ = store.Close() // the create error is the one to report
		return nil, err
	}
	if err := store.Close(); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", path+sqliteDSN)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	f := &sqliteFloor{db: db, room: r.ID, user: u.ID}
	for _, p := range []struct {
		st  **sql.Stmt
		sql string
	}{{&f.insMsg, sqlInsertMessage}, {&f.insEvt, sqlInsertEvent}, {&f.setHed, sqlSetHead}} {
		if *p.st, err = db.PrepareContext(ctx, p.sql); err != nil {
			_ = db.Close() // the prepare error is the one to report
			return nil, err
		}
	}
	return f, nil
}

// command answers "append K SECONDS".
func (f *sqliteFloor) command(arg string) (string, error) {
	var k int
	var secs float64
	if _, err := fmt.Sscan(arg, &k, &secs); err != nil || k < 1 {
		return "", fmt.Errorf("want K SECONDS, got %q", arg)
	}
	var lats []time.Duration
	deadline := time.Now().Add(time.Duration(secs * float64(time.Second)))
	for time.Now().Before(deadline) {
		t := time.Now()
		if err := f.commit(k); err != nil {
			return "", err
		}
		lats = append(lats, time.Since(t))
	}
	slices.Sort(lats)
	return fmt.Sprintf("APPENDED %d %d %d %d", len(lats)*k, len(lats),
		quantile(lats, 0.5).Microseconds(), quantile(lats, 0.99).Microseconds()), nil
}

// commit appends k messages in one transaction.
func (f *sqliteFloor) commit(k int) error {
	ctx := context.Background()
	tx, err := f.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // after Commit, a no-op
	insMsg, insEvt := tx.StmtContext(ctx, f.insMsg), tx.StmtContext(ctx, f.insEvt)
	for range k {
		f.seq++
		id := "m_" + strings.ToLower(rand.Text()) // sqlite.newID's form
		n := time.Now().UnixNano()
		if _, err := insMsg.ExecContext(ctx, id, f.room, f.seq, f.user, "durable message body", id[2:], n, ""); err != nil {
			return err
		}
		if _, err := insEvt.ExecContext(ctx, f.room, f.seq, int(parley.EventMessage), f.user, f.user, id, "", n); err != nil {
			return err
		}
	}
	if _, err := tx.StmtContext(ctx, f.setHed).ExecContext(ctx, f.seq, f.room); err != nil {
		return err
	}
	return tx.Commit()
}
