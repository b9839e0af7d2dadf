package client

import (
	"context"
	"errors"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
)

// codes inverts the server's mapping of domain codes to Connect codes.
// resource_exhausted is ambiguous: with a google.rpc.RetryInfo detail it is
// a rate limit or quota (ERATELIMITED, with RetryAfter), with a
// StreamPosition detail a slow consumer, otherwise a size limit (see
// domainError).
var codes = map[connect.Code]parley.ErrorCode{
	connect.CodeAlreadyExists:      parley.ECONFLICT,
	connect.CodeInternal:           parley.EINTERNAL,
	connect.CodeInvalidArgument:    parley.EINVALID,
	connect.CodeNotFound:           parley.ENOTFOUND,
	connect.CodeOutOfRange:         parley.EOUTOFRANGE,
	connect.CodeFailedPrecondition: parley.EPRECONDITION,
	connect.CodePermissionDenied:   parley.EFORBIDDEN,
	connect.CodeUnauthenticated:    parley.EUNAUTHORIZED,
	connect.CodeUnavailable:        parley.EUNAVAILABLE,
	connect.CodeResourceExhausted:  parley.ETOOLARGE,
	connect.CodeUnimplemented:      parley.ENOTIMPLEMENTED,
	connect.CodeDataLoss:           parley.ECORRUPT,
	// Codes the server does not send for domain errors: a broken or
	// interrupted call, worth trying again.
	connect.CodeUnknown:          parley.EUNAVAILABLE,
	connect.CodeAborted:          parley.EUNAVAILABLE,
	connect.CodeDeadlineExceeded: parley.EUNAVAILABLE,
	connect.CodeCanceled:         parley.EUNAVAILABLE,
}

// callError is a *parley.Error that also unwraps to the failure underneath
// it (a refused connection, a TLS error), so callers can tell those apart
// with errors.Is and errors.As.
type callError struct {
	err   *parley.Error
	cause error
}

func (e *callError) Error() string { return e.err.Error() }

func (e *callError) Unwrap() []error { return []error{e.err, e.cause} }

// domainError converts an error from a generated client to a *parley.Error
// carrying the domain code, the server's message, field violations and the
// stream position. A canceled ctx wins: its error is returned as is.
func domainError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		connect.CodeOf(err) == connect.CodeCanceled || connect.CodeOf(err) == connect.CodeDeadlineExceeded) {
		return ctx.Err()
	}
	var perr *parley.Error
	if errors.As(err, &perr) {
		return err
	}
	cerr := new(connect.Error)
	if !errors.As(err, &cerr) {
		return &callError{err: &parley.Error{Code: parley.EUNAVAILABLE, Message: err.Error()}, cause: err}
	}
	code, ok := codes[cerr.Code()]
	if !ok {
		code = parley.EINTERNAL
	}
	out := &parley.Error{Code: code, Message: cerr.Message()}
	for _, d := range cerr.Details() {
		v, err := d.Value()
		if err != nil {
			continue
		}
		switch v := v.(type) {
		case *errdetails.BadRequest:
			for _, fv := range v.GetFieldViolations() {
				out.Violations = append(out.Violations, parley.FieldViolation{Field: fv.GetField(), Description: fv.GetDescription()})
			}
		case *parleyv1.StreamPosition:
			out.Positions = append(out.Positions, parley.StreamPosition{RoomID: v.GetRoomId(), LastSeq: v.GetLastSeq()})
		case *errdetails.RetryInfo:
			if cerr.Code() == connect.CodeResourceExhausted {
				out.Code = parley.ERATELIMITED
				out.RetryAfter = v.GetRetryDelay().AsDuration()
			}
		}
	}
	// A bidirectional stream over HTTP/1.1 (a proxy in between may
	// downgrade) is answered with HTTP 505; retrying cannot help.
	if !connect.IsWireError(cerr) && strings.Contains(out.Message, "HTTP status 505") {
		out.Code = parley.ENOTIMPLEMENTED
		out.Message = "this call needs HTTP/2, but the server (or a proxy in between) got HTTP/1.1: " + out.Message
	}
	if cerr.Code() == connect.CodeResourceExhausted && len(out.Positions) > 0 && out.Code != parley.ERATELIMITED {
		out.Code = parley.ESLOWCONSUMER
	}
	if out.Message == "" {
		out.Message = cerr.Code().String()
	}
	if cause := cerr.Unwrap(); cause != nil && !connect.IsWireError(cerr) {
		return &callError{err: out, cause: cause}
	}
	return out
}

// retryable reports whether a stream that ended with err should reconnect:
// the server went away or cut a slow reader off, or the connection broke.
func retryable(err error) bool {
	switch parley.ErrorCodeOf(err) {
	case parley.EUNAVAILABLE, parley.ESLOWCONSUMER:
		return true
	case parley.EINTERNAL:
		// A stream cut mid-frame (server killed) reads as internal on
		// some protocols; a real internal error from the server says so.
		var perr *parley.Error
		errors.As(err, &perr)
		return perr.Message != "internal error"
	}
	return false
}
