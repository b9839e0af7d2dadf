package metrics

import (
	"context"
	"sync"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/server"
)

// otherProcedure labels requests for paths no handler served (an unknown
// procedure, or one not served yet): any client can make up paths.
const otherProcedure = "other"

// latencyBuckets are the buckets, in seconds, of the RPC and delivery
// latency histograms: 0.5 ms to 10 s.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

type rpcMetrics struct {
	started  *prometheus.CounterVec
	handled  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	sent     *prometheus.CounterVec
	received *prometheus.CounterVec
}

func newRPCMetrics(reg prometheus.Registerer) rpcMetrics {
	m := rpcMetrics{
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_rpc_started_total",
			Help: "RPCs that reached their handler, by procedure and protocol (connect, grpc, grpcweb, rest).",
		}, []string{"procedure", "protocol"}),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_rpc_handled_total",
			Help: "RPCs finished, by procedure, protocol, codec and code (Connect's names: ok, invalid_argument, ...), also those turned away before their handler.",
		}, []string{"procedure", "protocol", "codec", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "parley_rpc_duration_seconds",
			Help:    "How long unary RPCs took, from the request's arrival to the handler's return, by procedure and protocol.",
			Buckets: latencyBuckets,
		}, []string{"procedure", "protocol"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_stream_messages_sent_total",
			Help: "Messages the server sent on streams, by procedure.",
		}, []string{"procedure"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_stream_messages_received_total",
			Help: "Messages the server received on streams, by procedure.",
		}, []string{"procedure"}),
	}
	reg.MustRegister(m.started, m.handled, m.duration, m.sent, m.received)
	return m
}

// seriesKey names the series of one procedure called over one protocol.
type seriesKey struct{ procedure, protocol string }

// callSeries are a procedure's series for one protocol, looked up once
// per call: finding a series by its label values hashes every value.
type callSeries struct {
	started  prometheus.Counter
	duration prometheus.Observer // nil for streams and unknown procedures
	handled  sync.Map            // handledKey -> prometheus.Counter
}

type handledKey struct{ codec, code string }

// series returns the series of procedure over protocol; unary tells
// whether to time its calls.
func (m *Metrics) series(procedure, protocol string, unary bool) *callSeries {
	key := seriesKey{procedure, protocol}
	if s, ok := m.calls.Load(key); ok {
		return s.(*callSeries)
	}
	s := &callSeries{started: m.rpc.started.WithLabelValues(procedure, protocol)}
	if unary {
		s.duration = m.rpc.duration.WithLabelValues(procedure, protocol)
	}
	actual, _ := m.calls.LoadOrStore(key, s)
	return actual.(*callSeries)
}

// handledCounter returns the counter of calls that ended with code.
func (m *Metrics) handledCounter(s *callSeries, procedure, protocol, codec, code string) prometheus.Counter {
	key := handledKey{codec, code}
	if c, ok := s.handled.Load(key); ok {
		return c.(prometheus.Counter)
	}
	c, _ := s.handled.LoadOrStore(key, m.rpc.handled.WithLabelValues(procedure, protocol, codec, code))
	return c.(prometheus.Counter)
}

// Interceptor returns the interceptor that counts the RPCs that reach
// their handler, the streams open and the messages they carry.
func (m *Metrics) Interceptor() connect.Interceptor { return interceptor{m} }

type interceptor struct{ m *Metrics }

func (i interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		procedure := req.Spec().Procedure
		i.m.procedures.LoadOrStore(procedure, false)
		i.m.series(procedure, server.CallProtocol(ctx, req.Peer()), true).started.Inc()
		return next(ctx, req)
	}
}

func (i interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		procedure := conn.Spec().Procedure
		i.m.procedures.LoadOrStore(procedure, true)
		i.m.series(procedure, server.CallProtocol(ctx, conn.Peer()), false).started.Inc()
		open := i.m.stream.open.WithLabelValues(procedure)
		open.Inc()
		defer open.Dec()
		return next(ctx, &countingConn{
			StreamingHandlerConn: conn,
			sent:                 i.m.rpc.sent.WithLabelValues(procedure),
			received:             i.m.rpc.received.WithLabelValues(procedure),
		})
	}
}

// countingConn counts the messages a stream carries.
type countingConn struct {
	connect.StreamingHandlerConn
	sent, received prometheus.Counter
}

func (c *countingConn) Send(msg any) error {
	err := c.StreamingHandlerConn.Send(msg)
	if err == nil {
		c.sent.Inc()
	}
	return err
}

func (c *countingConn) Receive(msg any) error {
	err := c.StreamingHandlerConn.Receive(msg)
	if err == nil {
		c.received.Inc()
	}
	return err
}

// ObserveCall is a server.CallObserver: it counts every finished RPC by
// procedure, protocol, codec and code, and times the unary ones.
func (m *Metrics) ObserveCall(_ context.Context, call server.CallInfo) {
	if !call.IsRPC() {
		return
	}
	procedure, unary := otherProcedure, false
	if stream, known := m.procedures.Load(call.Procedure); known {
		procedure, unary = call.Procedure, !stream.(bool)
	}
	codec := call.Codec
	if codec != "proto" && codec != "json" {
		codec = "other"
	}
	code := call.Code
	if _, ok := knownCodes[code]; !ok {
		code = "unknown"
	}
	s := m.series(procedure, call.Protocol, unary)
	m.handledCounter(s, procedure, call.Protocol, codec, code).Inc()
	if s.duration != nil {
		s.duration.Observe(call.Duration.Seconds())
	}
}

// knownCodes are the values of the code label: Connect's code names.
var knownCodes = func() map[string]struct{} {
	names := map[string]struct{}{"ok": {}}
	for c := connect.CodeCanceled; c <= connect.CodeUnauthenticated; c++ {
		names[c.String()] = struct{}{}
	}
	return names
}()
