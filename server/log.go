package server

import (
	"context"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"connectrpc.com/authn"
	"connectrpc.com/connect"
)

// rpcRecord collects what the interceptor learns about an RPC for the log
// line written by logRequests.
type rpcRecord struct {
	code    connect.Code
	hasCode bool
}

type rpcRecordKey struct{}

// logRequests writes one line per request: procedure, protocol, codec, HTTP
// version, code, duration and bytes read and written. Calls that ended with
// internal or unknown are logged at error level.
func (s *Server) logRequests(h http.Handler) http.Handler {
	if !s.logRPCs {
		return h // nothing would be written: skip the counting and formatting
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &rpcRecord{}
		r = r.WithContext(context.WithValue(r.Context(), rpcRecordKey{}, rec))
		body := &countingReader{ReadCloser: r.Body}
		if r.Body != nil {
			r.Body = body
		}
		cw := &countingWriter{ResponseWriter: w}
		h.ServeHTTP(cw, r)

		ctx := r.Context()
		procedure, isRPC := authn.InferProcedure(r.URL)
		protocol, _ := authn.InferProtocol(r)
		if !isRPC || protocol == "" {
			if !s.logger().Enabled(ctx, slog.LevelDebug) {
				return
			}
			s.logger().LogAttrs(ctx, slog.LevelDebug, "http",
				slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", cw.statusOr200()), slog.String("http", r.Proto),
				slog.Duration("duration", time.Since(start)))
			return
		}
		code := "ok"
		level := slog.LevelInfo
		c, ok := rec.code, rec.hasCode
		if !ok {
			c, ok = codeFromResponse(cw.statusOr200(), w.Header())
		}
		if ok && c != 0 {
			code = c.String()
			if c == connect.CodeInternal || c == connect.CodeUnknown {
				level = slog.LevelError
			}
		}
		if !s.logger().Enabled(ctx, level) {
			return // don't build attributes for a line that would be dropped
		}
		s.logger().LogAttrs(ctx, level, "rpc",
			slog.String("procedure", procedure),
			slog.String("protocol", protocol),
			slog.String("codec", codecName(r)),
			slog.String("http", r.Proto),
			slog.String("code", code),
			slog.Duration("duration", time.Since(start)),
			slog.Int64("bytes_in", body.n.Load()),
			slog.Int64("bytes_out", cw.n),
		)
	})
}

// codecName tells the codec from the Content-Type (or, for Connect GET, the
// encoding query parameter): "proto" or "json".
func codecName(r *http.Request) string {
	if r.Method == http.MethodGet {
		return r.URL.Query().Get("encoding")
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/grpc", "application/grpc-web", "application/grpc-web-text":
		return "proto"
	}
	if i := strings.LastIndexAny(ct, "+/"); i >= 0 {
		return ct[i+1:]
	}
	return ct
}

// codeFromResponse recovers the code of calls that ended before reaching the
// interceptors (rejected by authentication or while reading the request).
func codeFromResponse(status int, header http.Header) (connect.Code, bool) {
	for _, key := range []string{"Grpc-Status", http.TrailerPrefix + "Grpc-Status"} {
		if v := header.Get(key); v != "" {
			n, err := strconv.Atoi(v)
			return connect.Code(n), err == nil
		}
	}
	switch status {
	case http.StatusOK:
		return 0, false
	case http.StatusBadRequest:
		return connect.CodeInvalidArgument, true
	case http.StatusUnauthorized:
		return connect.CodeUnauthenticated, true
	case http.StatusForbidden:
		return connect.CodePermissionDenied, true
	case http.StatusNotFound:
		return connect.CodeUnimplemented, true
	case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		return connect.CodeResourceExhausted, true
	case http.StatusServiceUnavailable:
		return connect.CodeUnavailable, true
	}
	return connect.CodeUnknown, true
}

// countingReader counts request bytes. Atomic: a bidi handler's reader
// goroutine may still be reading when the log line is written.
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
