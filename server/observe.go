package server

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"connectrpc.com/authn"
)

// CallInfo describes one finished request: what it was and how it ended.
// Observers (WithCallObserver) get one per request, the request log is one
// of them.
type CallInfo struct {
	// Procedure is the RPC's path, e.g. "/parley.v1.MessageService/SendMessage";
	// "" for a request that is not an RPC (the web app, an unknown path).
	Procedure string
	// Protocol is "connect", "grpc", "grpcweb", "rest" (a REST route,
	// transcoded), or "sse" or "ndjson" (the events route, Subscribe as
	// Server-Sent Events or NDJSON); "" when not an RPC.
	Protocol string
	// Codec is "proto" or "json" (or the request's codec name).
	Codec string
	// Code is how the RPC ended, as Connect names codes: "ok",
	// "invalid_argument", "unauthenticated", ...
	Code string
	// Method, Path, HTTPVersion and Status are those of the HTTP request.
	Method, Path, HTTPVersion string
	Status                    int
	// Duration runs from the request's arrival to the handler's return.
	Duration time.Duration
	// BytesIn and BytesOut count the request and response bodies as sent
	// on the wire (compressed, framed).
	BytesIn, BytesOut int64
}

// IsRPC reports whether the request was a call of a procedure.
func (c CallInfo) IsRPC() bool { return c.Procedure != "" }

// CallObserver is told about every finished request. It runs on the
// request's goroutine after the handler returned, so it must be quick.
type CallObserver func(ctx context.Context, call CallInfo)

// WithCallObserver adds an observer of every request's outcome, whatever
// the log level (metrics build on it). By default, only the request log
// observes calls, and only if the logger keeps error lines.
func WithCallObserver(o CallObserver) Option {
	return optionFunc(func(c *config) { c.observers = append(c.observers, o) })
}

// callRecord collects what the interceptor learns about an RPC (its code)
// for observeCalls.
type callRecord struct {
	code    string
	hasCode bool
	// procedure, protocol and codec are what the call was, as CallInfo
	// names them: set by the interceptor (record) from the call's spec and
	// peer, before it by recordREST for a REST call (its path is not the
	// procedure's; codec "json") and by the events route. Empty for a
	// request that did not reach them: observeCalls infers them then.
	procedure, protocol, codec string
	// ctx is the call's context as the handler saw it: the observers are
	// told in it, so that the request log's line carries the call's trace
	// span, which interceptors inside this middleware start.
	ctx context.Context
}

// observeCalls tells the observers about every request it serves.
func (s *Server) observeCalls(h http.Handler) http.Handler {
	if len(s.observers) == 0 {
		return h // nobody listens: skip the counting
	}
	return &callObserver{next: h, observers: s.observers}
}

// callObserver is the handler observeCalls returns.
type callObserver struct {
	next      http.Handler
	observers []CallObserver
}

func (o *callObserver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	oc := &observedCall{w: countingWriter{ResponseWriter: w}} // one allocation for the three
	body, cw := &oc.body, &oc.w
	r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, &oc.info))
	if r.Body != nil {
		body.ReadCloser = r.Body
		r.Body = body
	}
	// As the client sent them: the REST transcoder rewrites the request.
	oc.method, oc.path = r.Method, r.URL.Path
	o.next.ServeHTTP(cw, r)
	o.tell(w, r, oc, start)
}

// tell tells the observers about the call oc that began at start. It is a
// function of its own so that the frame a stream waits in stays small (see
// subscribe.go).
func (o *callObserver) tell(w http.ResponseWriter, r *http.Request, oc *observedCall, start time.Time) {
	rec, body, cw := &oc.info.call, &oc.body, &oc.w
	call := CallInfo{
		Method: oc.method, Path: oc.path, HTTPVersion: r.Proto, Status: cw.statusOr200(),
		Duration: time.Since(start), BytesIn: body.n.Load(), BytesOut: cw.n,
	}
	procedure, protocol, codec := rec.procedure, rec.protocol, rec.codec
	if procedure == "" { // turned away before the interceptors
		if p, isRPC := authn.InferProcedure(r.URL); isRPC {
			procedure = p
			protocol, _ = authn.InferProtocol(r)
		}
	}
	if protocol != "" && codec == "" {
		codec = codecName(r)
	}
	if protocol != "" {
		call.Procedure, call.Protocol, call.Codec = procedure, protocol, codec
		call.Code = "ok"
		code, ok := rec.code, rec.hasCode
		if !ok {
			code, ok = codeFromResponse(call.Status, w.Header())
		}
		if ok {
			call.Code = code
		}
	}
	ctx := r.Context()
	if rec.ctx != nil {
		ctx = rec.ctx
	}
	for _, observe := range o.observers {
		observe(ctx, call)
	}
}

// observedCall is what observeCalls keeps about one request.
type observedCall struct {
	info requestInfo
	body countingReader
	w    countingWriter
	// method and path are as the client sent them: the REST transcoder
	// rewrites the request.
	method, path string
}

// codecName tells the codec from the Content-Type (or, for Connect GET, the
// encoding query parameter): "proto" or "json", or the codec's own name.
// It runs for every observed call, so the usual content types are matched
// as they come, without canonicalizing the header's name or parsing the
// media type.
func codecName(r *http.Request) string {
	if r.Method == http.MethodGet {
		return r.URL.Query().Get("encoding")
	}
	if ct := r.Header["Content-Type"]; len(ct) == 1 {
		switch ct[0] {
		case "application/proto", "application/connect+proto", "application/grpc", "application/grpc+proto",
			"application/grpc-web", "application/grpc-web+proto", "application/grpc-web-text":
			return "proto"
		case "application/json", "application/connect+json", "application/grpc+json", "application/grpc-web+json":
			return "json"
		}
	}
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	ct = strings.ToLower(strings.TrimSpace(ct))
	switch ct {
	case "application/grpc", "application/grpc-web", "application/grpc-web-text":
		return "proto"
	}
	if i := strings.LastIndexAny(ct, "+/"); i >= 0 {
		return ct[i+1:]
	}
	return ct
}

// countingReader counts request bytes. Atomic: a bidi handler's reader
// goroutine may still be reading when the observers run.
type countingReader struct {
	io.ReadCloser
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// countingWriter counts response bytes. It keeps streaming working by
// forwarding Flush and letting http.ResponseController reach the original.
type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (c *countingWriter) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *countingWriter) statusOr200() int {
	if c.status == 0 {
		return http.StatusOK
	}
	return c.status
}
