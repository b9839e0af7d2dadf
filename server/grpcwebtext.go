package server

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	"connectrpc.com/connect"
)

// gRPC-Web text mode (grpc/grpc doc/PROTOCOL-WEB.md) is binary gRPC-Web with
// both bodies in base64: the mode the official grpc-web JavaScript client
// uses by default, and the only one in which it delivers a server stream's
// messages as they arrive. connect-go speaks binary gRPC-Web only, so
// translateGRPCWebText sits in front of it and translates; it knows the
// protocol and nothing of the services behind it.
const (
	grpcWebTextContentType      = "application/grpc-web-text"
	grpcWebTextProtoContentType = "application/grpc-web-text+proto"
	grpcWebProtoContentType     = "application/grpc-web+proto"
)

// grpcWebTextAcceptPost is added to connect-go's Accept-Post on a 415.
var grpcWebTextAcceptPost = []string{grpcWebTextContentType, grpcWebTextProtoContentType}

// translateGRPCWebText serves gRPC-Web text requests (POST with
// Content-Type application/grpc-web-text or application/grpc-web-text+proto)
// as binary gRPC-Web: h sees Content-Type application/grpc-web+proto and a
// body decoded from base64 as it is read, so every limit behind it (the
// read limit, the decompression cap, the unary wire cap, deadlines,
// authentication before the body is read) applies to the decoded bytes.
// What h writes is sent as base64, and each Flush ends a padded base64 run
// (as Envoy's grpc_web filter does: the client decodes in 4-character
// groups, so runs concatenate), so a stream stays live. The answer carries
// the content type the request asked for.
//
// Every other request costs one look at its Content-Type. A POST whose
// content type connect-go does not serve gets the text types added to the
// Accept-Post of its 415.
//
// The request body must be base64 in 4-character groups, padded ("=")
// wherever the client broke it into runs; line breaks (at most two bytes in
// a row, as base64 tools wrap lines) are skipped, so the wire body is at
// most six times the decoded one. Anything else ends the call with
// invalid_argument.
func translateGRPCWebText(h http.Handler) http.Handler {
	return &grpcWebTextTranslator{next: h}
}

// grpcWebTextTranslator is the handler translateGRPCWebText returns.
type grpcWebTextTranslator struct {
	next http.Handler
}

func (t *grpcWebTextTranslator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var contentType string
	if v := r.Header["Content-Type"]; len(v) > 0 {
		contentType = v[0]
	}
	if contentType != grpcWebTextContentType && contentType != grpcWebTextProtoContentType {
		if servedContentType(contentType) || r.Method != http.MethodPost {
			t.next.ServeHTTP(w, r)
			return
		}
		// Parameters, capitals, or a type connect-go does not serve.
		base, _, _ := strings.Cut(contentType, ";")
		base = strings.TrimSpace(base)
		switch {
		case strings.EqualFold(base, grpcWebTextContentType):
			contentType = grpcWebTextContentType
		case strings.EqualFold(base, grpcWebTextProtoContentType):
			contentType = grpcWebTextProtoContentType
		case servedContentType(base):
			t.next.ServeHTTP(w, r)
			return
		default:
			t.next.ServeHTTP(&acceptPostWriter{w}, r)
			return
		}
	}
	if r.Method != http.MethodPost {
		t.next.ServeHTTP(w, r)
		return
	}
	r.Header["Content-Type"][0] = grpcWebProtoContentType
	r.Header.Del("Content-Length")
	r.ContentLength = -1 // unknown once decoded: the unary cap wraps the decoded body
	call := &textCall{w: base64ResponseWriter{w: w, contentType: contentType}}
	call.w.flusher, _ = w.(http.Flusher)
	call.w.buf = call.w.small[:0]
	if r.Body != nil && r.Body != http.NoBody {
		call.body.body = r.Body
		r.Body = &call.body
	}
	t.next.ServeHTTP(&call.w, r)
	call.w.finish()
}

// textCall is one translated call's state, in one allocation.
type textCall struct {
	body base64Body
	w    base64ResponseWriter
}

// servedContentType reports whether connect-go serves the content type as
// it is (the codecs Parley registers), so nothing needs doing.
func servedContentType(contentType string) bool {
	switch contentType {
	case "application/proto", "application/json",
		"application/connect+proto", "application/connect+json",
		"application/grpc", "application/grpc+proto", "application/grpc+json",
		"application/grpc-web", "application/grpc-web+proto", "application/grpc-web+json":
		return true
	}
	return false
}

// acceptPostWriter adds the gRPC-Web text types to connect-go's
// Accept-Post when it answers 415.
type acceptPostWriter struct {
	http.ResponseWriter
}

func (w *acceptPostWriter) WriteHeader(code int) {
	if code == http.StatusUnsupportedMediaType {
		if accept := w.Header().Get("Accept-Post"); accept != "" {
			types := strings.Split(accept, ", ")
			types = append(types, grpcWebTextAcceptPost...)
			slices.Sort(types)
			w.Header().Set("Accept-Post", strings.Join(slices.Compact(types), ", "))
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *acceptPostWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *acceptPostWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// base64ResponseWriter sends what is written to it as base64. Bytes short
// of a 3-byte group wait for the next Write; Flush (and the end of the
// call) pads them out, so each flushed run is complete base64 on its own.
// Responses that are not gRPC-Web (a 404 page, a 505) pass through as they
// are.
type base64ResponseWriter struct {
	w           http.ResponseWriter
	flusher     http.Flusher // nil when w cannot flush
	contentType string       // answered instead of application/grpc-web+proto

	wroteHeader bool
	encode      bool
	tail        [2]byte // written bytes waiting for a third
	ntail       int
	buf         []byte // encoded output, reused; at most encodeChunk*4/3
	small       [256]byte
}

// encodeChunk is how many bytes are encoded per write to w.
const encodeChunk = 12 << 10

func (t *base64ResponseWriter) Header() http.Header { return t.w.Header() }

func (t *base64ResponseWriter) WriteHeader(code int) {
	if !t.wroteHeader {
		t.wroteHeader = true
		header := t.w.Header()
		if ct := header["Content-Type"]; len(ct) > 0 && strings.HasPrefix(ct[0], "application/grpc-web") {
			ct[0] = t.contentType
			header.Del("Content-Length")
			t.encode = true
		}
	}
	t.w.WriteHeader(code)
}

func (t *base64ResponseWriter) Write(p []byte) (int, error) {
	if !t.wroteHeader {
		t.WriteHeader(http.StatusOK)
	}
	if !t.encode {
		return t.w.Write(p)
	}
	n := len(p)
	t.buf = t.buf[:0]
	if t.ntail > 0 {
		if t.ntail+len(p) < 3 {
			t.ntail += copy(t.tail[t.ntail:], p)
			return n, nil
		}
		var group [3]byte
		copy(group[:], t.tail[:t.ntail])
		k := copy(group[t.ntail:], p)
		t.buf = base64.StdEncoding.AppendEncode(t.buf, group[:])
		p = p[k:]
		t.ntail = 0
	}
	for len(p) >= 3 {
		m := min(len(p)/3*3, encodeChunk)
		t.buf = base64.StdEncoding.AppendEncode(t.buf, p[:m])
		p = p[m:]
		if _, err := t.w.Write(t.buf); err != nil { //nolint:gosec // G705: base64 of gRPC-Web frames, never HTML
			return 0, err
		}
		t.buf = t.buf[:0]
	}
	if len(t.buf) > 0 {
		if _, err := t.w.Write(t.buf); err != nil { //nolint:gosec // G705: base64 of gRPC-Web frames, never HTML
			return 0, err
		}
	}
	t.ntail = copy(t.tail[:], p)
	return n, nil
}

// Flush implements http.Flusher: it ends the base64 run with padding.
func (t *base64ResponseWriter) Flush() {
	if !t.wroteHeader {
		t.WriteHeader(http.StatusOK)
	}
	t.pad()
	if t.flusher != nil {
		t.flusher.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (t *base64ResponseWriter) Unwrap() http.ResponseWriter { return t.w }

// finish ends the response: the last bytes padded out, and the headers
// (with the text content type) written if nothing was.
func (t *base64ResponseWriter) finish() {
	if !t.wroteHeader {
		t.WriteHeader(http.StatusOK)
	}
	t.pad()
}

func (t *base64ResponseWriter) pad() {
	if t.ntail == 0 {
		return
	}
	t.buf = base64.StdEncoding.AppendEncode(t.buf[:0], t.tail[:t.ntail])
	t.ntail = 0
	_, _ = t.w.Write(t.buf)
}

// Malformed request bodies: each Read that finds one returns a fresh
// invalid_argument (connect-go and interceptors may add to an error).
const (
	msgNotBase64    = "gRPC-Web text: request body is not base64"
	msgPartialGroup = "gRPC-Web text: request body ends inside a 4-character base64 group"
	msgLineBreaks   = "gRPC-Web text: more than 2 line-break bytes in a row in the request body"
)

func errBadText(msg string) error {
	return connect.NewError(connect.CodeInvalidArgument, errors.New(msg))
}

// base64Body decodes a gRPC-Web text request body as it is read: each Read
// reads the wire body once and returns what decoded. A group padded with
// "=" ends a run; the next group starts a new one. Errors from the wire
// body (a deadline, a cut connection) are returned as they are; malformed
// input ends the call with invalid_argument (connect-go reports a connect
// error from the body as the call's status).
type base64Body struct {
	body   io.ReadCloser
	buf    *base64Buffers // from base64Pool until the body ends
	nraw   int            // buf.raw[:nraw] is an incomplete group carried over
	off    int            // buf.out[off:nout] is decoded and not yet returned
	nout   int
	breaks int // line-break bytes in a row
	err    error
}

type base64Buffers struct {
	raw [4096]byte
	out [3072]byte
}

var base64Pool = sync.Pool{New: func() any { return new(base64Buffers) }}

func (b *base64Body) Read(p []byte) (int, error) {
	for b.off == b.nout {
		if b.err != nil {
			if b.buf != nil {
				base64Pool.Put(b.buf)
				b.buf = nil
			}
			return 0, b.err
		}
		b.fill()
	}
	n := copy(p, b.buf.out[b.off:b.nout])
	b.off += n
	return n, nil
}

func (b *base64Body) Close() error { return b.body.Close() }

// fill reads the wire body once and decodes every complete group.
func (b *base64Body) fill() {
	if b.buf == nil {
		b.buf = base64Pool.Get().(*base64Buffers)
	}
	raw := &b.buf.raw
	n, err := b.body.Read(raw[b.nraw:])
	// Drop line breaks in place.
	kept := b.nraw
	for _, c := range raw[b.nraw : b.nraw+n] {
		if c == '\r' || c == '\n' {
			if b.breaks++; b.breaks > 2 {
				b.err = errBadText(msgLineBreaks)
				return
			}
			continue
		}
		b.breaks = 0
		raw[kept] = c
		kept++
	}
	data := raw[:kept]
	whole := len(data) / 4 * 4
	groups := data[:whole]
	b.off, b.nout = 0, 0
	for len(groups) > 0 {
		end := len(groups)
		if i := bytes.IndexByte(groups, '='); i >= 0 {
			end = (i/4 + 1) * 4 // a run ends with the group that holds its padding
		}
		m, derr := base64.StdEncoding.Decode(b.buf.out[b.nout:], groups[:end])
		if derr != nil {
			b.err = errBadText(msgNotBase64)
			return
		}
		b.nout += m
		groups = groups[end:]
	}
	b.nraw = copy(raw[:], data[whole:])
	switch {
	case err == io.EOF && b.nraw > 0:
		b.err = errBadText(msgPartialGroup)
	case err != nil:
		b.err = err
	}
}
