package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/internal/testserver"
)

// traceReceiver is an OTLP trace collector of the test's own: a gRPC
// TraceService on a loopback port that keeps every span it is sent.
type traceReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
	addr  string
	conns atomic.Int64 // connections accepted

	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string // service.name of each batch's resource
}

func startTraceReceiver(t *testing.T) *traceReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &traceReceiver{addr: ln.Addr().String()}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, r)
	go func() { _ = srv.Serve(countingListener{ln, &r.conns}) }()
	t.Cleanup(srv.Stop)
	return r
}

func (r *traceReceiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				r.services = append(r.services, kv.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			r.spans = append(r.spans, ss.GetSpans()...)
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// trace returns the spans received of the trace with the hex id traceID.
func (r *traceReceiver) trace(traceID string) []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range r.spans {
		if hex.EncodeToString(s.GetTraceId()) == traceID {
			out = append(out, s)
		}
	}
	return out
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// logLines collects what a child parleyd logs, one JSON object a line.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// rpc returns the request log's lines of procedure.
func (l *logLines) rpc(t *testing.T, procedure string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(l.buf.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "rpc" && rec["procedure"] == procedure {
			out = append(out, rec)
		}
	}
	return out
}

// clientSpan is the span of a client's own that a call carries in its
// traceparent header.
type clientSpan struct{ traceID, spanID string }

func newClientSpan(t *testing.T) clientSpan {
	t.Helper()
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return clientSpan{hex.EncodeToString(b[:16]), hex.EncodeToString(b[16:])}
}

func (c clientSpan) traceparent() string { return "00-" + c.traceID + "-" + c.spanID + "-01" }

// tracedEnv points a child parleyd's exporter at the receiver, over gRPC.
func tracedEnv(r *traceReceiver) []string {
	return []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + r.addr,
		"OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
	}
}

const sendProcedure = "/parley.v1.MessageService/SendMessage"

// TestTracesReachCollector sends a message over every protocol, each call
// with a traceparent of its own, stops parleyd (which flushes its spans)
// and finds each call's server span, store span and publish span at the
// receiver under the caller's trace (caller -> RPC -> store, RPC ->
// publish), and the call's request log line carrying its trace and span.
func TestTracesReachCollector(t *testing.T) {
	t.Parallel()
	receiver := startTraceReceiver(t)
	logs := &logLines{}
	cmd, url := startChildLogging(t, t.TempDir(), tracedEnv(receiver), logs, "--log-format", "json", "--log-level", "info")
	connectClient := testserver.H2C(url)
	u := testserver.SignUp(t, connectClient, "tracer")
	roomID := u.CreateRoom(t, "traced", parleyv1.Visibility_VISIBILITY_UNSPECIFIED).GetId()

	viaConnect := func(c testserver.Client) func(t *testing.T, span clientSpan) {
		return func(t *testing.T, span clientSpan) {
			req := connect.NewRequest(&parleyv1.SendMessageRequest{RoomId: roomID, Text: "hi", ClientMessageId: span.spanID})
			req.Header().Set("traceparent", span.traceparent())
			if _, err := u.Via(c).Messages.SendMessage(testserver.Context(t), req); err != nil {
				t.Fatalf("SendMessage: %v", err)
			}
		}
	}
	grpcClient, grpcWebClient := connectClient, connectClient
	grpcClient.Options = []connect.ClientOption{connect.WithGRPC()}
	grpcWebClient.Options = []connect.ClientOption{connect.WithGRPCWeb()}
	calls := []struct {
		protocol string
		send     func(t *testing.T, span clientSpan)
		span     clientSpan
	}{
		{protocol: "connect", send: viaConnect(connectClient)},
		{protocol: "grpc", send: viaConnect(grpcClient)},
		{protocol: "grpcweb", send: viaConnect(grpcWebClient)},
		{protocol: "rest", send: func(t *testing.T, span clientSpan) {
			body := `{"text":"hi","clientMessageId":"` + span.spanID + `"}`
			req, err := http.NewRequestWithContext(testserver.Context(t), http.MethodPost, url+"/v1/rooms/"+roomID+"/messages", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+u.Token)
			req.Header.Set("traceparent", span.traceparent())
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if b, _ := io.ReadAll(res.Body); res.StatusCode != http.StatusOK {
				t.Fatalf("POST messages: %s %s", res.Status, b)
			}
		}},
	}
	for i := range calls {
		calls[i].span = newClientSpan(t)
		calls[i].send(t, calls[i].span)
	}
	// The request log writes its line once the response is out.
	deadline := time.Now().Add(timeBound(10 * time.Second))
	for len(logs.rpc(t, sendProcedure)) < len(calls) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("parleyd: %v", err)
	}

	receiver.mu.Lock()
	services := receiver.services
	receiver.mu.Unlock()
	if len(services) == 0 || services[0] != "parleyd" {
		t.Errorf("service.name of the batches: %q, want parleyd", services)
	}
	lines := logs.rpc(t, sendProcedure)
	for _, call := range calls {
		t.Run(call.protocol, func(t *testing.T) {
			spans := receiver.trace(call.span.traceID)
			rpc := findSpan(t, spans, "parley.v1.MessageService/SendMessage", call.span.spanID)
			if rpc.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
				t.Errorf("RPC span kind %v, want server", rpc.GetKind())
			}
			if got := stringAttribute(rpc, "parley.protocol"); got != call.protocol {
				t.Errorf("RPC span's parley.protocol %q, want %q", got, call.protocol)
			}
			rpcID := hex.EncodeToString(rpc.GetSpanId())
			findSpan(t, spans, "parley.store.AppendMessage", rpcID)
			// Published by the commit, as a child of the call that stored it.
			findSpan(t, spans, "parley.broker.Publish", rpcID)

			found := false
			for _, line := range lines {
				if line["trace_id"] == call.span.traceID {
					found = true
					if line["span_id"] != rpcID {
						t.Errorf("log line's span_id %v, want the RPC span's %s", line["span_id"], rpcID)
					}
				}
			}
			if !found {
				t.Errorf("no request log line with trace_id %s in %v", call.span.traceID, lines)
			}
		})
	}
}

// findSpan returns the span named name whose parent is the span with the
// hex id parentID, failing the test if there is none.
func findSpan(t *testing.T, spans []*tracepb.Span, name, parentID string) *tracepb.Span {
	t.Helper()
	var names []string
	for _, s := range spans {
		if s.GetName() == name && hex.EncodeToString(s.GetParentSpanId()) == parentID {
			return s
		}
		names = append(names, s.GetName()+" (parent "+hex.EncodeToString(s.GetParentSpanId())+")")
	}
	t.Fatalf("no span %s with parent %s among %q", name, parentID, names)
	return nil
}

func stringAttribute(s *tracepb.Span, key string) string {
	for _, kv := range s.GetAttributes() {
		if kv.GetKey() == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

// TestTracesOffDialsNothing starts parleyd with the collector's endpoint
// set but OTEL_TRACES_EXPORTER=none, makes a call and stops it: the
// receiver is never dialled. Without any OTEL variable tracing is off too.
func TestTracesOffDialsNothing(t *testing.T) {
	t.Parallel()
	receiver := startTraceReceiver(t)
	env := append(tracedEnv(receiver), "OTEL_TRACES_EXPORTER=none")
	cmd, url := startChildLogging(t, t.TempDir(), env, nil)
	u := testserver.SignUp(t, testserver.H2C(url), "untraced")
	roomID := u.CreateRoom(t, "untraced", parleyv1.Visibility_VISIBILITY_UNSPECIFIED).GetId()
	u.SendMessage(t, roomID, "hi", "c1")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("parleyd: %v", err)
	}
	if n := receiver.conns.Load(); n != 0 {
		t.Errorf("receiver accepted %d connections, want none", n)
	}

	tr, err := startTracing(t.Context(), func(string) string { return "" }, nil)
	if tr != nil || err != nil {
		t.Errorf("startTracing without variables = %v, %v; want off", tr, err)
	}
}
