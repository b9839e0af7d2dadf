package sqlite

import (
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/parley-chat/parley"
)

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// isForeignKey reports whether err is a FOREIGN KEY violation.
func isForeignKey(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// isFull reports whether err is SQLITE_FULL: the disk (or the file size
// limit) has no room for the write. SQLite reports a short write with
// ENOSPC as SQLITE_FULL, and rolls the statement or transaction back.
func isFull(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_FULL
}

// classify adds parley.ErrStorageFull to a write's error when SQLite ran
// out of space, keeping the cause in the chain for the log.
func classify(err error) error {
	if isFull(err) && !errors.Is(err, parley.ErrStorageFull) {
		return fmt.Errorf("%w: %w", parley.ErrStorageFull, err)
	}
	return err
}

// rowErr is the error of a query for one row that failed with err:
// ENOTFOUND saying missing when there was no row, else err in the context
// what.
func rowErr(err error, what, missing string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return parley.Errorf(parley.ENOTFOUND, "%s", missing)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// insertErr classifies the error of an insert that names a user: nil stays
// nil, a unique violation is ECONFLICT with conflict as its message, a
// foreign key violation is ENOTFOUND "user not found", anything else is
// wrapped with what.
func insertErr(err error, what, conflict string) error {
	switch {
	case err == nil:
		return nil
	case isUnique(err):
		return parley.Errorf(parley.ECONFLICT, "%s", conflict)
	case isForeignKey(err):
		return parley.Errorf(parley.ENOTFOUND, "user not found")
	}
	return fmt.Errorf("%s: %w", what, err)
}
