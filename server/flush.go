package server

import (
	"context"
	"net/http"

	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
)

// maxHeldMessages is how many flushes a hold skips before it lets one
// through, so the first events of a long backlog are not held back while
// the rest are written. net/http also writes out whenever its 4 KiB stream
// buffer fills.
const maxHeldMessages = 64

// flushHold is the ResponseWriter of a streaming procedure. connect-go
// flushes after every streamed message: one HTTP/2 DATA frame (or HTTP/1.1
// chunk), a hand-off to the connection's writer and usually a write
// syscall per message. A stream handler that knows more messages are
// queued holds flushes while it writes them and releases once, after the
// last: the same bytes in fewer, larger writes. Outside a hold every Flush
// goes through, so a lone message (or heartbeat) leaves at once.
//
// Only the stream's handler goroutine may call hold and release; it is
// also the only goroutine that writes, so no lock is needed.
type flushHold struct {
	http.ResponseWriter
	flusher http.Flusher
	held    int // hold depth: holds nest
	skipped int // flushes skipped since the last real one, while held
}

type flushHoldKey struct{}

// holdStreamFlushes installs a flushHold for the streaming procedures
// (Subscribe and Chat) and the events route (events_http.go); every other
// request passes through untouched.
func holdStreamFlushes(h http.Handler) http.Handler {
	return &streamFlushHolder{next: h}
}

// streamFlushHolder is the handler holdStreamFlushes returns.
type streamFlushHolder struct {
	next http.Handler
}

func (s *streamFlushHolder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, events := eventsRoom(r)
	switch {
	case r.URL.Path == parleyv1connect.MessageServiceSubscribeProcedure, r.URL.Path == parleyv1connect.MessageServiceChatProcedure, events:
		if f, ok := w.(http.Flusher); ok {
			fh := &flushHold{ResponseWriter: w, flusher: f}
			w = fh
			r = r.WithContext(context.WithValue(r.Context(), flushHoldKey{}, fh))
		}
	}
	s.next.ServeHTTP(w, r)
}

// flushHoldFrom returns the stream's flushHold, or nil when there is none;
// a nil *flushHold holds nothing.
func flushHoldFrom(ctx context.Context) *flushHold {
	fh, _ := ctx.Value(flushHoldKey{}).(*flushHold)
	return fh
}

// Flush implements http.Flusher: skipped while held.
func (w *flushHold) Flush() {
	if w.held > 0 && w.skipped < maxHeldMessages {
		w.skipped++
		return
	}
	w.skipped = 0
	w.flusher.Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *flushHold) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// hold skips flushes (all but one in maxHeldMessages) until the matching
// release.
func (w *flushHold) hold() {
	if w != nil {
		w.held++
	}
}

// release ends a hold; the outermost release flushes if a flush was
// skipped.
func (w *flushHold) release() {
	if w == nil {
		return
	}
	if w.held--; w.held == 0 && w.skipped > 0 {
		w.skipped = 0
		w.flusher.Flush()
	}
}
