package metrics

import (
	"context"
	"sync/atomic"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley"
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
			Help: "RPCs that reached their handler, by procedure and protocol (connect, grpc, grpcweb, rest, sse, ndjson).",
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

// protocols are the values of the protocol label, in the order of
// procedureSeries.byProtocol.
var protocols = [...]string{"connect", "grpc", "grpcweb", "rest", "sse", "ndjson"}

func protocolIndex(protocol string) (int, bool) {
	switch protocol {
	case "connect":
		return 0, true
	case "grpc":
		return 1, true
	case "grpcweb":
		return 2, true
	case "rest":
		return 3, true
	case "sse":
		return 4, true
	case "ndjson":
		return 5, true
	}
	return 0, false
}

// procedureSeries are one procedure's series, found with one lookup per
// call (each interceptor closure keeps its own procedure's): finding a
// series by its label values hashes every value.
type procedureSeries struct {
	procedure  string
	unary      bool // timed in parley_rpc_duration_seconds
	byProtocol [len(protocols)]atomic.Pointer[callSeries]
	// A streaming procedure's open streams, the messages they carry and
	// how they end; nil for a unary one.
	open           prometheus.Gauge
	sent, received prometheus.Counter
	duration       prometheus.Observer
	ended          map[parley.StreamEnd]prometheus.Counter
}

// callSeries are the series of one procedure over one protocol, each made
// when first needed.
type callSeries struct {
	started  prometheus.Counter
	duration prometheus.Observer // nil unless unary
	handled  [len(codecs)][len(codes)]atomic.Pointer[prometheus.Counter]
}

// codecs and codes are the values of the codec and code labels.
var (
	codecs = [...]string{"proto", "json", "other"}
	codes  = [...]string{
		"ok", "canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found",
		"already_exists", "permission_denied", "resource_exhausted", "failed_precondition",
		"aborted", "out_of_range", "unimplemented", "internal", "unavailable", "data_loss",
		"unauthenticated",
	}
)

func codecIndex(codec string) int {
	switch codec {
	case "proto":
		return 0
	case "json":
		return 1
	}
	return 2
}

// codeIndex finds code among codes; a name that is none of Connect's
// counts as unknown.
func codeIndex(code string) int {
	if code == "ok" {
		return 0 // nearly every call
	}
	for i, c := range codes {
		if c == code {
			return i
		}
	}
	return 2
}

// procedure returns the series of a procedure a handler serves.
func (m *Metrics) procedure(procedure string, unary bool) *procedureSeries {
	return m.procedures.loadOrMake(procedure, func() *procedureSeries {
		p := &procedureSeries{procedure: procedure, unary: unary}
		if !unary {
			p.open = m.stream.open.WithLabelValues(procedure)
			p.sent = m.rpc.sent.WithLabelValues(procedure)
			p.received = m.rpc.received.WithLabelValues(procedure)
			p.duration = m.stream.duration.WithLabelValues(procedure)
			p.ended = make(map[parley.StreamEnd]prometheus.Counter, len(parley.StreamEnds))
			for _, reason := range parley.StreamEnds {
				p.ended[reason] = m.stream.ended.WithLabelValues(procedure, string(reason))
			}
		}
		return p
	})
}

// series returns p's series over protocol, one of protocols.
func (m *Metrics) series(p *procedureSeries, protocol int) *callSeries {
	if s := p.byProtocol[protocol].Load(); s != nil {
		return s
	}
	s := &callSeries{started: m.rpc.started.WithLabelValues(p.procedure, protocols[protocol])}
	if p.unary {
		s.duration = m.rpc.duration.WithLabelValues(p.procedure, protocols[protocol])
	}
	if !p.byProtocol[protocol].CompareAndSwap(nil, s) {
		return p.byProtocol[protocol].Load()
	}
	return s
}

// handled returns the counter of p's calls over protocol that ended with
// codec and code.
func (m *Metrics) handled(p *procedureSeries, protocol, codec, code int) prometheus.Counter {
	s := m.series(p, protocol)
	if c := s.handled[codec][code].Load(); c != nil {
		return *c
	}
	c := m.rpc.handled.WithLabelValues(p.procedure, protocols[protocol], codecs[codec], codes[code])
	s.handled[codec][code].CompareAndSwap(nil, &c)
	return c
}

// Interceptor returns the interceptor that counts the unary RPCs that
// reach their handler and the messages streams carry.
func (m *Metrics) Interceptor() connect.Interceptor { return interceptor{m} }

type interceptor struct{ m *Metrics }

// procedureOf returns the series of the procedure spec names, cached in
// *cache: connect-go wraps each handler (one procedure) in a closure of
// its own, so the lookup is made once per closure.
func (i interceptor) procedureOf(cache *atomic.Pointer[procedureSeries], spec connect.Spec, unary bool) *procedureSeries {
	if p := cache.Load(); p != nil && p.procedure == spec.Procedure {
		return p
	}
	p := i.m.procedure(spec.Procedure, unary)
	cache.Store(p)
	return p
}

func (i interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	var cache atomic.Pointer[procedureSeries]
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		spec := req.Spec()
		if spec.IsClient {
			return next(ctx, req)
		}
		if protocol, ok := protocolIndex(server.CallProtocol(ctx, req.Peer())); ok {
			i.m.series(i.procedureOf(&cache, spec, true), protocol).started.Inc()
		}
		return next(ctx, req)
	}
}

func (i interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	var cache atomic.Pointer[procedureSeries]
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		// Started and open are counted by the Observer (StreamStarted),
		// which the events route tells too.
		p := i.procedureOf(&cache, conn.Spec(), false)
		return next(ctx, &countingConn{StreamingHandlerConn: conn, sent: p.sent, received: p.received})
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
	protocol, ok := protocolIndex(call.Protocol)
	if !ok {
		return
	}
	ps, known := m.procedures.load(call.Procedure)
	if !known {
		ps = m.other
	}
	m.handled(ps, protocol, codecIndex(call.Codec), codeIndex(call.Code)).Inc()
	if ps.unary {
		m.series(ps, protocol).duration.Observe(call.Duration.Seconds())
	}
}
