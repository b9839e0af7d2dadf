package parley

import (
	"context"
	"reflect"
	"time"
)

// Observer is told where the work below the RPCs happens: store
// operations, publishes, deliveries to subscribers, how streams end,
// commits and the PostgreSQL broker's reads. Metrics time and count these
// points, a tracer starts a span at each of them; JoinObservers lets both
// listen at once.
//
// Every field may be nil: that point is not observed. The funcs run on
// hot paths (every store call, every event written to every subscriber),
// some on the goroutine that commits everyone's appends, so they must be
// quick, must not block and must be safe for concurrent use.
type Observer struct {
	// StoreOp starts a store operation: op is the parley.Store method
	// ("AppendMessage", "ListEvents", ...). It returns the context the
	// operation runs in (a tracer's span in it) and done, called once with
	// the operation's outcome.
	StoreOp func(ctx context.Context, op string) (context.Context, func(err error))
	// Publish starts the publish of e to the broker, after its commit, on
	// the goroutine of the call that made it (ctx) or of the group commit
	// that stored it; done is called when Broker.Publish returned. e is
	// shared with every subscriber: read it, never modify it.
	Publish func(ctx context.Context, e *Event) (done func())
	// Delivered is told each live event written to a subscriber's stream
	// and how long after its publish (Event.Published) that was. Events
	// replayed from the room log were not published by this process and
	// are not told.
	Delivered func(e *Event, sincePublish time.Duration)
	// QueueDepth is told how many events a subscriber found queued each
	// time it woke to take them (at most the broker's queue size).
	QueueDepth func(events int)
	// SlowConsumerCut is told each subscription dropped because its reader
	// fell too far behind.
	SlowConsumerCut func(roomID string)
	// StreamStarted is told each stream (a streaming RPC) that reached its
	// handler, and the protocol it came in (as the request log names it:
	// "connect", "grpc", "grpcweb", "sse", "ndjson"). StreamEnded follows
	// it once the stream ended.
	StreamStarted func(ctx context.Context, procedure, protocol string)
	// StreamEnded is told how each stream (a streaming RPC) ended, as one of
	// the StreamEnd reasons, and how long it was open.
	StreamEnded func(ctx context.Context, procedure string, reason StreamEnd, open time.Duration)
	// Commit is told each write transaction that appends messages: how many
	// appends it held (a group commit holds several) and whether the
	// commit failed.
	Commit func(appends int, err error)
	// BrokerNotification is told each notification a broker that spans
	// processes (PostgreSQL's LISTEN/NOTIFY) received from the database.
	BrokerNotification func()
	// BrokerCatchUp is told each read such a broker makes from the room
	// log to catch a room up (after a notification, a poll or a
	// reconnect), with how many events it read and its outcome.
	BrokerCatchUp func(events int, err error)
}

// StreamEnd is why a stream ended.
type StreamEnd string

// The reasons a stream ends.
const (
	StreamEndOK           StreamEnd = "ok"            // the handler finished (an upload completed, the client closed its side)
	StreamEndCanceled     StreamEnd = "client_cancel" // the client went away or canceled
	StreamEndDeadline     StreamEnd = "deadline"      // the client's deadline passed
	StreamEndSlowConsumer StreamEnd = "slow_consumer" // cut off for falling too far behind
	StreamEndShutdown     StreamEnd = "shutdown"      // ended by the server's drain
	StreamEndRevoked      StreamEnd = "revoked"       // its session or membership was revoked or expired
	StreamEndError        StreamEnd = "error"         // any other error
)

// StreamEnds lists every StreamEnd, for those that keep a series per reason.
var StreamEnds = []StreamEnd{
	StreamEndOK, StreamEndCanceled, StreamEndDeadline, StreamEndSlowConsumer,
	StreamEndShutdown, StreamEndRevoked, StreamEndError,
}

// JoinObservers returns an Observer that tells each of observers in turn
// (nil ones are skipped). StoreOp and Publish start in order and finish
// in reverse, each starting in the context the previous one returned.
func JoinObservers(observers ...*Observer) *Observer {
	var list []*Observer
	for _, o := range observers {
		if o != nil {
			list = append(list, o)
		}
	}
	switch len(list) {
	case 0:
		return &Observer{}
	case 1:
		return list[0]
	}
	joined := &Observer{}
	if fs := fieldsOf(list, func(o *Observer) func(context.Context, string) (context.Context, func(error)) { return o.StoreOp }); fs != nil {
		joined.StoreOp = func(ctx context.Context, op string) (context.Context, func(error)) {
			dones := make([]func(error), len(fs))
			for i, f := range fs {
				ctx, dones[i] = f(ctx, op)
			}
			return ctx, func(err error) {
				for i := len(dones) - 1; i >= 0; i-- {
					dones[i](err)
				}
			}
		}
	}
	if fs := fieldsOf(list, func(o *Observer) func(context.Context, *Event) func() { return o.Publish }); fs != nil {
		joined.Publish = func(ctx context.Context, e *Event) func() {
			dones := make([]func(), len(fs))
			for i, f := range fs {
				dones[i] = f(ctx, e)
			}
			return func() {
				for i := len(dones) - 1; i >= 0; i-- {
					dones[i]()
				}
			}
		}
	}
	if fs := fieldsOf(list, func(o *Observer) func(*Event, time.Duration) { return o.Delivered }); fs != nil {
		joined.Delivered = func(e *Event, d time.Duration) {
			for _, f := range fs {
				f(e, d)
			}
		}
	}
	if fs := fieldsOf(list, func(o *Observer) func(int) { return o.QueueDepth }); fs != nil {
		joined.QueueDepth = func(n int) {
			for _, f := range fs {
				f(n)
			}
		}
	}
	if fs := fieldsOf(list, func(o *Observer) func(string) { return o.SlowConsumerCut }); fs != nil {
		joined.SlowConsumerCut = func(roomID string) {
			for _, f := range fs {
				f(roomID)
			}
		}
	}
	if fs := fieldsOf(list, func(o *Observer) func(context.Context, string, string) { return o.StreamStarted }); fs != nil {
		joined.StreamStarted = func(ctx context.Context, procedure, protocol string) {
			for _, f := range fs {
				f(ctx, procedure, protocol)
			}
		}
	}
	if fs := fieldsOf(list, func(o *Observer) func(context.Context, string, StreamEnd, time.Duration) { return o.StreamEnded }); fs != nil {
		joined.StreamEnded = func(ctx context.Context, procedure string, reason StreamEnd, open time.Duration) {
			for _, f := range fs {
				f(ctx, procedure, reason, open)
			}
		}
	}
	if fs := fieldsOf(list, func(o *Observer) func(int, error) { return o.Commit }); fs != nil {
		joined.Commit = func(n int, err error) {
			for _, f := range fs {
				f(n, err)
			}
		}
	}
	if fs := fieldsOf(list, func(o *Observer) func() { return o.BrokerNotification }); fs != nil {
		joined.BrokerNotification = func() {
			for _, f := range fs {
				f()
			}
		}
	}
	if fs := fieldsOf(list, func(o *Observer) func(int, error) { return o.BrokerCatchUp }); fs != nil {
		joined.BrokerCatchUp = func(n int, err error) {
			for _, f := range fs {
				f(n, err)
			}
		}
	}
	return joined
}

// fieldsOf returns the non-nil funcs field picks from observers, nil if
// there are none.
func fieldsOf[F any](observers []*Observer, field func(*Observer) F) []F {
	var fs []F
	for _, o := range observers {
		// A nil func in a type parameter cannot be compared to nil.
		if f := field(o); !reflect.ValueOf(f).IsNil() {
			fs = append(fs, f)
		}
	}
	return fs
}
