package main

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/parley-chat/parley"
)

// observer starts a span at each store operation ("parley.store." and the
// parley.Store method, e.g. parley.store.AppendMessage, with
// db.system.name sqlite or postgresql and db.operation.name the method) and
// at each publish to the broker (parley.broker.Publish, with the room and
// the event's seq), as children of the RPC's span. Work outside any RPC
// (the storage health check, the PostgreSQL broker's catch-up reads) is
// not traced, so that it does not fill the collector with root spans.
func (t *tracing) observer(cfg config) *parley.Observer {
	tracer := t.provider.Tracer("github.com/parley-chat/parley")
	system := semconv.DBSystemNameSQLite
	if cfg.db != "" {
		system = semconv.DBSystemNamePostgreSQL
	}
	return &parley.Observer{
		StoreOp: func(ctx context.Context, op string) (context.Context, func(error)) {
			if !trace.SpanContextFromContext(ctx).IsValid() {
				return ctx, func(error) {}
			}
			ctx, span := tracer.Start(ctx, "parley.store."+op, trace.WithAttributes(system, semconv.DBOperationName(op)))
			return ctx, func(err error) {
				if err != nil {
					span.RecordError(err)
					span.SetStatus(codes.Error, string(parley.ErrorCodeOf(err)))
				}
				span.End()
			}
		},
		Publish: func(ctx context.Context, e *parley.Event) func() {
			if !trace.SpanContextFromContext(ctx).IsValid() {
				return func() {}
			}
			_, span := tracer.Start(ctx, "parley.broker.Publish", trace.WithAttributes(
				attribute.String("parley.room_id", e.RoomID),
				attribute.Int64("parley.event.seq", e.Seq),
			))
			return func() { span.End() }
		},
	}
}
