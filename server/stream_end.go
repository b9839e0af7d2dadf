package server

import (
	"context"
	"errors"

	"github.com/parley-chat/parley"
)

// streamEnd tells why a stream's handler returned err, a domain error or
// nil, for the Observer's StreamEnded.
func (s *Server) streamEnd(ctx context.Context, err error) parley.StreamEnd {
	code := parley.ErrorCodeOf(err)
	switch {
	case err == nil:
		return parley.StreamEndOK
	case revokedBy(ctx) != nil || errors.Is(err, errLeftRoom) ||
		errors.Is(err, errTokenRevoked) || errors.Is(err, errTokenExpired) || errors.Is(err, errMembershipRevoked):
		return parley.StreamEndRevoked
	case code == parley.ESLOWCONSUMER:
		return parley.StreamEndSlowConsumer
	case code == parley.EUNAVAILABLE && s.draining() != nil:
		return parley.StreamEndShutdown
	case errors.Is(ctx.Err(), context.Canceled) || errors.Is(err, context.Canceled):
		return parley.StreamEndCanceled
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return parley.StreamEndDeadline
	}
	return parley.StreamEndError
}
