package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/parley-chat/parley"
)

// SQLSTATE codes this package tells apart.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeDiskFull            = "53100" // class 53, insufficient resources
)

// errUnavailable is the domain error for a database that cannot be reached;
// the server answers it with unavailable, so clients retry (on another
// replica, if they have one).
var errUnavailable = parley.Errorf(parley.EUNAVAILABLE, "database unavailable; try again")

func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool { return pgCode(err) == codeUniqueViolation }

// isForeignKey reports whether err is a FOREIGN KEY violation.
func isForeignKey(err error) bool { return pgCode(err) == codeForeignKeyViolation }

// isUnreachable reports whether err means the database could not be reached
// or the connection was lost: a failed dial, a broken connection, the server
// shutting down or terminating our backend (SQLSTATE classes 08 and 57P),
// or short of memory or connections (class 53 but disk_full).
// A canceled or expired caller context is not one: that is the caller's.
func isUnreachable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if code := pgCode(err); code != "" {
		// Class 53 but disk_full (out of memory, too many connections,
		// a configuration limit) passes once load goes down: try again.
		return code[:2] == "08" || code == "57P01" || code == "57P02" || code == "57P03" ||
			code[:2] == "53" && code != codeDiskFull
	}
	var (
		connectErr *pgconn.ConnectError
		netErr     net.Error
	)
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}

// wrap adds context to err and, when the database is unreachable, the
// EUNAVAILABLE domain code, or when its disk is full (SQLSTATE 53100),
// parley.ErrStorageFull, keeping the cause in the chain for the log.
func wrap(what string, err error) error {
	if pgCode(err) == codeDiskFull {
		return fmt.Errorf("%s: %w: %w", what, parley.ErrStorageFull, err)
	}
	if isUnreachable(err) {
		return fmt.Errorf("%s: %w: %w", what, errUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// rowErr is the error of a query for one row that failed with err:
// ENOTFOUND saying missing when there was no row, else err wrapped in the
// context what.
func rowErr(err error, what, missing string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return parley.Errorf(parley.ENOTFOUND, "%s", missing)
	}
	return wrap(what, err)
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
	return wrap(what, err)
}
