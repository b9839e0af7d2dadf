package server

import (
	"net/http"

	"connectrpc.com/authn"
)

// capUnaryBodies caps the wire size of unary request bodies at readMax plus
// room for framing and compression overhead, so a client cannot make the
// server read an endless body before it can refuse it. Streams are bounded
// per message by connect.WithReadMaxBytes instead, since their bodies are
// long-lived by design. Exceeding the cap yields resource_exhausted. A body
// whose declared Content-Length is within the cap needs no wrapper: net/http
// (HTTP/1.1 and HTTP/2 alike) never delivers more than the declared length.
func capUnaryBodies(h http.Handler, unary map[string]bool, readMax int) http.Handler {
	return &unaryBodyCap{next: h, unary: unary, limit: int64(readMax) + int64(readMax)/64 + 1024}
}

// unaryBodyCap is the handler capUnaryBodies returns.
type unaryBodyCap struct {
	next  http.Handler
	unary map[string]bool
	limit int64
}

func (c *unaryBodyCap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Body != nil && (r.ContentLength < 0 || r.ContentLength > c.limit) {
		if procedure, ok := authn.InferProcedure(r.URL); ok && c.unary[procedure] {
			r.Body = http.MaxBytesReader(w, r.Body, c.limit)
		}
	}
	c.next.ServeHTTP(w, r)
}
