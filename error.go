package parley

import (
	"errors"
	"fmt"
	"time"
)

// ErrorCode classifies a domain error. The server maps each code to exactly
// one Connect code, in one place.
type ErrorCode string

// The error codes of the Parley domain.
const (
	ECONFLICT       ErrorCode = "conflict"        // already exists
	EINTERNAL       ErrorCode = "internal"        // a bug or an unexpected failure
	EINVALID        ErrorCode = "invalid"         // bad input; see Error.Violations
	ENOTFOUND       ErrorCode = "not_found"       // no such entity, or not visible to the caller
	EOUTOFRANGE     ErrorCode = "out_of_range"    // a position beyond what exists
	EPRECONDITION   ErrorCode = "precondition"    // the state does not allow the operation
	EFORBIDDEN      ErrorCode = "forbidden"       // authenticated but not allowed
	EUNAUTHORIZED   ErrorCode = "unauthenticated" // missing, wrong, expired or revoked credentials
	EUNAVAILABLE    ErrorCode = "unavailable"     // try again later (shutdown, storage down)
	ESTORAGEFULL    ErrorCode = "storage_full"    // no space left for writes; nothing was stored
	ESLOWCONSUMER   ErrorCode = "slow_consumer"   // a reader fell too far behind and was cut off
	ENOTIMPLEMENTED ErrorCode = "not_implemented" // the operation is not supported here
	ETOOLARGE       ErrorCode = "too_large"       // over a configured size limit
	ECORRUPT        ErrorCode = "corrupt"         // data does not match its checksum
	ERATELIMITED    ErrorCode = "rate_limited"    // over a rate limit or quota; see Error.RetryAfter
)

// Error is the domain error. Message is safe to show to clients; internal
// failures are wrapped with EINTERNAL and their detail is only logged.
type Error struct {
	Code       ErrorCode
	Message    string
	Violations []FieldViolation // set with EINVALID
	// Positions are where a stream that ended early (ESLOWCONSUMER,
	// EUNAVAILABLE) stopped, so its client resumes from there: one for
	// Subscribe, one per joined room for Chat; none when the error did not
	// end a stream or the position is unknown.
	Positions []StreamPosition
	// Upload is how far an Upload stream that ended early got, so its
	// client continues from there; nil when the upload was not known yet.
	Upload *UploadPosition
	// RetryAfter is how long to wait before the same call may succeed, set
	// with ERATELIMITED.
	RetryAfter time.Duration
}

// UploadPosition is how far an upload got: the bytes of it stored.
type UploadPosition struct {
	UploadID string
	Offset   int64
}

// ErrStorageFull is what storage engines report, wrapping their own error,
// when a write failed for lack of space (a full disk or quota, SQLite's
// SQLITE_FULL, PostgreSQL's disk_full): the write was undone, reads still
// work, and the same write succeeds once space is freed.
var ErrStorageFull = &Error{Code: ESTORAGEFULL, Message: "server storage is full: nothing was stored; try again later"}

// StreamPosition is a point in a room's sequence: the room and the last
// seq delivered on a stream (0 before the first message).
type StreamPosition struct {
	RoomID  string
	LastSeq int64
}

// FieldViolation names one invalid request field, as in google.rpc.BadRequest.
type FieldViolation struct {
	Field       string
	Description string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("parley: %s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// RateLimited returns an ERATELIMITED error: the caller may try again
// after retryAfter.
func RateLimited(retryAfter time.Duration, format string, args ...any) *Error {
	return &Error{Code: ERATELIMITED, Message: fmt.Sprintf(format, args...), RetryAfter: retryAfter}
}

// Invalid returns an EINVALID error carrying the given field violations.
// It returns nil when there are none, so validators can end with
// `return parley.Invalid(violations)`.
func Invalid(violations []FieldViolation) error {
	if len(violations) == 0 {
		return nil
	}
	msg := violations[0].Field + ": " + violations[0].Description
	if len(violations) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(violations)-1)
	}
	return &Error{Code: EINVALID, Message: msg, Violations: violations}
}

// ErrorCodeOf returns the code of the first *Error in err's chain, "" for nil
// and EINTERNAL for any other error.
func ErrorCodeOf(err error) ErrorCode {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}
