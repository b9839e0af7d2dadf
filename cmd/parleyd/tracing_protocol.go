package main

import (
	"context"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/parley-chat/parley/server"
)

// protocolKey labels each RPC's span with how the call came, as the
// request log and the metrics name it (server.CallProtocol): connect,
// grpc, grpcweb, or rest for a REST route, which otelconnect's rpc.system
// shows as a Connect call (what the REST transcoder turns it into).
const protocolKey = attribute.Key("parley.protocol")

// spanProtocol sets protocolKey on the span otelconnect started; it runs
// just inside otelconnect's interceptor.
type spanProtocol struct{}

func (spanProtocol) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if !req.Spec().IsClient {
			trace.SpanFromContext(ctx).SetAttributes(protocolKey.String(server.CallProtocol(ctx, req.Peer())))
		}
		return next(ctx, req)
	}
}

func (spanProtocol) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (spanProtocol) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		trace.SpanFromContext(ctx).SetAttributes(protocolKey.String(server.CallProtocol(ctx, conn.Peer())))
		return next(ctx, conn)
	}
}
