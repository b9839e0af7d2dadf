package server

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// drainWriteGrace is how long a stream may take, once Drain has begun, to
// write what is left (its final status, carrying where to resume); a write
// blocked longer, by a peer that does not read, fails then.
const drainWriteGrace = time.Second

// endStreamsAtDrain lets Drain reach streams wherever they wait. Stream
// handlers select on the drain, but a handler blocked reading the client's
// next frame (an idle Upload) or writing to a peer that does not read (a
// stalled Download) would not see it, and Shutdown would wait for them to
// its deadline. So at Drain every stream still running gets a write
// deadline drainWriteGrace away and, if the client streams (Upload, Chat),
// a read deadline of now, which ends a pending read at once (the handler
// then finds the server draining and ends with unavailable and its resume
// point). A server stream's request body is read already, and on HTTP/1.1
// a read deadline would fail net/http's background read and cancel the
// request's context, racing the drain's unavailable. Unary calls are left
// alone: they get --shutdown-timeout to finish. The events route
// (events_http.go) is a server stream too.
func (s *Server) endStreamsAtDrain(h http.Handler) http.Handler {
	return &drainDeadliner{next: h, drain: s.drain, streams: clientStreamProcedures(s.serviceList)}
}

// drainDeadliner is the handler endStreamsAtDrain returns.
type drainDeadliner struct {
	next    http.Handler
	drain   context.Context
	streams map[string]bool // the stream procedures: true if the client streams
}

func (d *drainDeadliner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	clientStreams, ok := d.streams[r.URL.Path]
	if _, events := eventsRoom(r); !ok && !events {
		d.next.ServeHTTP(w, r)
		return
	}
	ds := &drainingStream{rc: http.NewResponseController(w), clientStreams: clientStreams}
	stop := context.AfterFunc(d.drain, ds.setDeadlines)
	defer func() {
		stop()
		ds.handlerReturned()
	}()
	d.next.ServeHTTP(w, r)
}

// drainingStream is one stream's part in endStreamsAtDrain, in one
// allocation. The deadlines must not be set once the handler has
// returned: the ResponseWriter is no longer ours then.
type drainingStream struct {
	rc            *http.ResponseController
	clientStreams bool

	mu       sync.Mutex
	returned bool
}

// setDeadlines runs at Drain.
func (ds *drainingStream) setDeadlines() {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if !ds.returned {
		now := time.Now()
		if ds.clientStreams {
			_ = ds.rc.SetReadDeadline(now)
		}
		_ = ds.rc.SetWriteDeadline(now.Add(drainWriteGrace))
	}
}

func (ds *drainingStream) handlerReturned() {
	ds.mu.Lock()
	ds.returned = true
	ds.mu.Unlock()
}
