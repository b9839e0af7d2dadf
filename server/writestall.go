package server

import (
	"net/http"
	"sync"
	"time"
)

// dropStalledWrites ends a response whose write (a Write or a Flush) has
// waited writeStall for the client (WithStalledWriteTimeout). HTTP/2's
// WriteByteTimeout drops a connection whose socket takes no bytes, but a
// peer that answers pings while it holds one stream's flow-control window
// at zero keeps its connection busy and the stream's write blocked
// forever: Go's HTTP/2 server waits for the window without watching the
// request's context. So every response writer is wrapped, and a timer runs
// only while a write is pending; when it fires, a write deadline in the
// past resets the stream (HTTP/2) or fails the connection's writes
// (HTTP/1.1), which ends the blocked write and so the handler. A deadline
// is never left on an idle stream (it would kill it), and the timer costs
// no message to the connection's serving goroutine per write, as a write
// deadline armed and cleared around each write would.
func (s *Server) dropStalledWrites(h http.Handler) http.Handler {
	return &stalledWriteDropper{next: h, timeout: s.cfg.writeStall}
}

// stalledWriteDropper is the handler dropStalledWrites returns. Like every
// middleware on a stream's way it is a type rather than a closure: one
// frame less on each idle stream's goroutine (see subscribe.go).
type stalledWriteDropper struct {
	next    http.Handler
	timeout time.Duration
}

func (d *stalledWriteDropper) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g := &stallGuard{ResponseWriter: w, rc: http.NewResponseController(w), timeout: d.timeout}
	defer g.finish()
	d.next.ServeHTTP(g, r)
}

// stallGuard is the ResponseWriter dropStalledWrites installs. Write and
// Flush are called by one goroutine at a time (a ResponseWriter is not safe
// for concurrent use); the timer's function runs on its own, so what it
// reads is under mu.
type stallGuard struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	timer   *time.Timer

	flushed bool // the handler flushed: a streamed response

	mu       sync.Mutex
	since    time.Time // when the pending write began; zero when none is
	returned bool      // the handler returned: the writer is not ours any more
}

func (g *stallGuard) Write(p []byte) (int, error) {
	g.begin()
	defer g.end()
	return g.ResponseWriter.Write(p)
}

// FlushError flushes, under the same watch as Write.
func (g *stallGuard) FlushError() error {
	g.flushed = true
	g.begin()
	defer g.end()
	return g.rc.Flush()
}

// Flush implements http.Flusher.
func (g *stallGuard) Flush() { _ = g.FlushError() }

// Unwrap lets http.ResponseController reach the underlying writer.
func (g *stallGuard) Unwrap() http.ResponseWriter { return g.ResponseWriter }

func (g *stallGuard) begin() {
	g.mu.Lock()
	g.since = time.Now()
	g.mu.Unlock()
	if g.timer == nil {
		g.timer = time.AfterFunc(g.timeout, g.expire)
	} else {
		g.timer.Reset(g.timeout)
	}
}

func (g *stallGuard) end() {
	g.timer.Stop()
	g.mu.Lock()
	g.since = time.Time{}
	g.mu.Unlock()
}

// expire fails the pending write if it has waited the whole timeout (the
// timer may fire just as one write ends and the next begins).
func (g *stallGuard) expire() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.returned && !g.since.IsZero() && time.Since(g.since) >= g.timeout {
		_ = g.rc.SetWriteDeadline(time.Unix(1, 0))
	}
}

// finish ends the watch when the handler returns. A streamed response is
// flushed first, under the watch: what is left of it (the last message, a
// Connect end-of-stream message) would otherwise be written by net/http
// after the handler, where nothing watches. A response never flushed (a
// unary call) is left to net/http, which can then give it a
// Content-Length; it is small, and HTTP/2's WriteByteTimeout ends a
// connection that takes no bytes.
func (g *stallGuard) finish() {
	if g.flushed {
		_ = g.FlushError()
	}
	g.mu.Lock()
	g.returned = true
	g.mu.Unlock()
	if g.timer != nil {
		g.timer.Stop()
	}
}
