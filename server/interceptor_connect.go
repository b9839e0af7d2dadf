package server

import (
	"context"
	"errors"
	"net/http"
	"runtime/debug"
	"time"

	"connectrpc.com/connect"
)

// rpcInterceptor caps unary calls at the configured duration, counts each
// user's open streams (quota.go), turns domain errors into Connect errors
// (error.go), records each call's code for the request log and tells the
// Observer when each stream started and how it ended.
type rpcInterceptor struct{ s *Server }

var _ connect.Interceptor = (*rpcInterceptor)(nil)

func (i *rpcInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		// Cap the call's duration; a nearer client deadline still applies.
		if c := capDeadline(ctx, i.s.cfg.maxUnary); c != nil {
			ctx = c
			defer c.release()
		}
		res, err := next(ctx, req)
		err = i.s.connectError(ctx, err)
		i.s.record(ctx, err, req.Spec().Procedure, req.Peer().Protocol)
		return res, err
	}
}

func (i *rpcInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i *rpcInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	// A stream waits in this frame as long as it lasts: what runs once
	// at each end is in functions of its own, to keep the frame small.
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		start := time.Now()
		i.streamStarted(ctx, conn)
		release, err := i.s.openStream(ctx)
		if err == nil {
			defer release()
			err = next(ctx, conn)
		}
		return i.streamEnded(ctx, conn, err, start)
	}
}

// streamStarted tells the Observer a stream started.
func (i *rpcInterceptor) streamStarted(ctx context.Context, conn connect.StreamingHandlerConn) {
	if started := i.s.obs.StreamStarted; started != nil {
		started(ctx, conn.Spec().Procedure, CallProtocol(ctx, conn.Peer()))
	}
}

// streamEnded tells the Observer how a stream that began at start ended,
// records its code and returns err as a Connect error.
func (i *rpcInterceptor) streamEnded(ctx context.Context, conn connect.StreamingHandlerConn, err error, start time.Time) error {
	if ended := i.s.obs.StreamEnded; ended != nil {
		ended(ctx, conn.Spec().Procedure, i.s.streamEnd(ctx, err), time.Since(start))
	}
	err = i.s.connectError(ctx, err)
	i.s.record(ctx, err, conn.Spec().Procedure, conn.Peer().Protocol)
	return err
}

// record notes the call's code and context for observeCalls, if it
// observes, and its procedure and protocol (the peer's), unless a layer
// outside the interceptors (recordREST, the events route) named them.
func (s *Server) record(ctx context.Context, err error, procedure, protocol string) {
	if len(s.observers) == 0 {
		return
	}
	if info := requestInfoFrom(ctx); info != nil {
		rec := &info.call
		rec.code, rec.hasCode, rec.ctx = "ok", true, ctx
		if err != nil {
			rec.code = codeName(connect.CodeOf(err))
		}
		if rec.procedure == "" && protocol != "" {
			rec.procedure, rec.protocol = procedure, protocol
		}
	}
}

// recoverPanic turns a handler panic into internal, logging the panic and
// its stack but sending the client nothing of it.
func (s *Server) recoverPanic(ctx context.Context, spec connect.Spec, _ http.Header, p any) error {
	if p == http.ErrAbortHandler { //nolint:errorlint // net/http's sentinel is compared by identity
		panic(p)
	}
	s.logger().ErrorContext(ctx, "panic in handler",
		"procedure", spec.Procedure, "panic", p, "stack", string(debug.Stack()))
	err := connect.NewError(connect.CodeInternal, errors.New("internal error"))
	s.record(ctx, err, "", "") // the peer is not known here: observeCalls infers the call
	return err
}

// CallProtocol names how the call in ctx came, as CallInfo.Protocol does:
// "rest" for a REST route transcoded into the call, otherwise the peer's
// protocol ("connect", "grpc", "grpcweb"). Interceptors given with
// WithInterceptors label calls with it, to agree with the request log.
func CallProtocol(ctx context.Context, peer connect.Peer) string {
	if info := requestInfoFrom(ctx); info != nil && info.call.protocol != "" {
		return info.call.protocol
	}
	return peer.Protocol
}
