package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
)

// codes maps every domain error code to its Connect code. This is the only
// place the mapping lives.
var codes = map[parley.ErrorCode]connect.Code{
	parley.ECONFLICT:       connect.CodeAlreadyExists,
	parley.EINTERNAL:       connect.CodeInternal,
	parley.EINVALID:        connect.CodeInvalidArgument,
	parley.ENOTFOUND:       connect.CodeNotFound,
	parley.EOUTOFRANGE:     connect.CodeOutOfRange,
	parley.EPRECONDITION:   connect.CodeFailedPrecondition,
	parley.EFORBIDDEN:      connect.CodePermissionDenied,
	parley.EUNAUTHORIZED:   connect.CodeUnauthenticated,
	parley.EUNAVAILABLE:    connect.CodeUnavailable,
	parley.ESTORAGEFULL:    connect.CodeResourceExhausted,
	parley.ESLOWCONSUMER:   connect.CodeResourceExhausted,
	parley.ENOTIMPLEMENTED: connect.CodeUnimplemented,
	parley.ETOOLARGE:       connect.CodeResourceExhausted,
	parley.ECORRUPT:        connect.CodeDataLoss,
	parley.ERATELIMITED:    connect.CodeResourceExhausted,
}

// connectError converts err for the wire. Domain errors keep their message
// and gain details: google.rpc.BadRequest field violations for invalid input,
// a parley.v1.StreamPosition per room for streams that ended early, a
// parley.v1.UploadPosition for an Upload stream that did,
// google.rpc.RetryInfo for rate limits and quotas. A write that
// failed for lack of space is reported to health (storageFull). Errors that are
// already Connect errors pass through. Anything else is an internal error:
// logged in full, sent as "internal error".
func (s *Server) connectError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := new(connect.Error); errors.As(err, &cerr) {
		return cerr
	}
	switch {
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("canceled"))
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("deadline exceeded"))
	}
	var perr *parley.Error
	if !errors.As(err, &perr) || perr.Code == parley.EINTERNAL {
		s.logger().ErrorContext(ctx, "internal error", "err", err)
		return connect.NewError(connect.CodeInternal, errors.New("internal error"))
	}
	if perr.Code == parley.ESTORAGEFULL {
		s.storageFull(ctx, err)
	}
	code, ok := codes[perr.Code]
	if !ok {
		s.logger().ErrorContext(ctx, "unmapped domain error code", "err", err)
		code = connect.CodeInternal
	}
	cerr := connect.NewError(code, errors.New(perr.Message))
	if len(perr.Violations) > 0 {
		br := &errdetails.BadRequest{}
		for _, v := range perr.Violations {
			br.FieldViolations = append(br.FieldViolations,
				&errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Description})
		}
		addDetail(cerr, br)
	}
	for _, pos := range perr.Positions {
		addDetail(cerr, &parleyv1.StreamPosition{RoomId: pos.RoomID, LastSeq: pos.LastSeq})
	}
	if up := perr.Upload; up != nil {
		addDetail(cerr, &parleyv1.UploadPosition{UploadId: up.UploadID, Offset: up.Offset})
	}
	if perr.RetryAfter > 0 {
		addDetail(cerr, &errdetails.RetryInfo{RetryDelay: durationpb.New(perr.RetryAfter)})
		// Retry-After (whole seconds, rounded up) for HTTP clients: REST
		// answers carry it as a header (vanguard passes error metadata on).
		cerr.Meta().Set("Retry-After", strconv.FormatInt(int64((perr.RetryAfter+time.Second-1)/time.Second), 10))
	}
	return cerr
}

func addDetail(cerr *connect.Error, msg proto.Message) {
	if d, err := connect.NewErrorDetail(msg); err == nil {
		cerr.AddDetail(d)
	}
}

// codeName is Connect's name of a code, "ok" for 0.
func codeName(c connect.Code) string {
	if c == 0 {
		return "ok"
	}
	return c.String()
}

// codeFromResponse recovers the code of calls that ended before reaching the
// interceptors (rejected by authentication or while reading the request).
func codeFromResponse(status int, header http.Header) (string, bool) {
	for _, key := range []string{"Grpc-Status", http.TrailerPrefix + "Grpc-Status"} {
		if v := header.Get(key); v != "" {
			n, err := strconv.ParseUint(v, 10, 32)
			return codeName(connect.Code(n)), err == nil
		}
	}
	var code connect.Code
	switch status {
	case http.StatusOK:
		return "ok", false
	case http.StatusBadRequest:
		code = connect.CodeInvalidArgument
	case http.StatusUnauthorized:
		code = connect.CodeUnauthenticated
	case http.StatusForbidden:
		code = connect.CodePermissionDenied
	case http.StatusNotFound:
		code = connect.CodeUnimplemented
	case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		code = connect.CodeResourceExhausted
	case http.StatusServiceUnavailable:
		code = connect.CodeUnavailable
	default:
		code = connect.CodeUnknown
	}
	return code.String(), true
}
