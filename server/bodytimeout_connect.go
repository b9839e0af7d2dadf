package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"connectrpc.com/connect"
)

// limitBodyTime gives every request body but a client stream's
// bodyTimeout to arrive (WithBodyTimeout): a read deadline on the
// connection (HTTP/1.1) or the stream (HTTP/2), set before the handler runs
// and cleared when the body has been read to its end. Without it a body
// trickling at a byte a second holds its handler, and the unary cap
// (WithMaxUnaryDuration) starts only once the message is read.
//
// The deadline is cleared at the end of the body and never set again:
// net/http reads in the background after the body's end (HTTP/1.1) to
// notice a client going away, and a deadline firing then would cancel
// the request. A handler that returns without reading its body to the end
// leaves the deadline in place, so that net/http's discarding of the rest
// is bounded too; the next request on the connection sets its own.
func (s *Server) limitBodyTime(h http.Handler) http.Handler {
	return &bodyTimeLimiter{next: h, streams: clientStreamProcedures(s.serviceList), timeout: s.cfg.bodyTimeout}
}

// bodyTimeLimiter is the handler limitBodyTime returns.
type bodyTimeLimiter struct {
	next    http.Handler
	streams map[string]bool // the client-stream procedures: no deadline
	timeout time.Duration
}

func (l *bodyTimeLimiter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := l.next
	if r.Body == nil || r.Body == http.NoBody || l.streams[r.URL.Path] {
		h.ServeHTTP(w, r)
		return
	}
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(l.timeout)); err != nil {
		h.ServeHTTP(w, r) // a writer without deadlines: nothing to clear either
		return
	}
	r.Body = &timedBody{ReadCloser: r.Body, rc: rc, timeout: l.timeout}
	if r.ProtoMajor == 1 {
		r.Body.(*timedBody).header = w.Header()
	}
	h.ServeHTTP(w, r)
}

// timedBody clears its request's read deadline at the body's end and
// turns the deadline's error into deadline_exceeded. On HTTP/1.1 it also
// asks for the connection to be closed after the answer: the rest of the
// body is still on its way, and net/http would otherwise read it as the
// next request. (On HTTP/2 Connection: close would end the connection's
// other streams too; the stream alone ends there.)
type timedBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	header  http.Header // HTTP/1.1 only
	timeout time.Duration
	ended   bool
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case errors.Is(err, io.EOF) && !b.ended:
		b.ended = true
		_ = b.rc.SetReadDeadline(time.Time{})
	case errors.Is(err, os.ErrDeadlineExceeded):
		if b.header != nil {
			b.header.Set("Connection", "close")
		}
		err = connect.NewError(connect.CodeDeadlineExceeded, fmt.Errorf("request body not received within %v", b.timeout))
	}
	return n, err
}
