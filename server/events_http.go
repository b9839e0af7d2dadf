package server

import (
	"context"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
)

// The events route, GET /v1/rooms/{room_id}/events: Subscribe for curl and
// a browser's EventSource, as Server-Sent Events (text/event-stream) or, when
// the Accept header prefers it, as newline-delimited JSON
// (application/x-ndjson). It is one more eventSink of the subscription core
// (subscribe.go): the same feed, checks, revocations and resume guarantee
// as Subscribe, and each room event the very JSON bytes Subscribe's JSON
// codec sends (encoded once for every subscriber).
//
//   - SSE: every event is `id: <seq>` (logged events only: messages, edits,
//     deletions) and `data: <SubscribeResponse JSON>`; the stream starts
//     with `retry: 2000` and heartbeats are comments
//     (`: heartbeat <time> last_seq=<n>`). Last-Event-ID, which EventSource
//     sends by itself when it reconnects, or else ?since_seq=, is where to
//     resume.
//   - NDJSON: one SubscribeResponse JSON object a line, heartbeats included
//     (`{"heartbeat":{...}}`).
//
// Authentication is the bearer token, or ?ticket= (ticket.go) for an
// EventSource. Errors before the stream starts are a google.rpc.Status JSON
// body with the HTTP status of their code, as on the REST routes; after it
// started the stream ends with an `event: error` (NDJSON: a line
// `{"error":{...}}`) carrying the same google.rpc.Status, whose
// StreamPosition names where to resume after a cut-off or shutdown.

// sseRetry is the reconnection delay an SSE stream suggests to EventSource.
const sseRetry = 2 * time.Second

// Protocols of the events route, as the request log names them.
const (
	protocolSSE    = "sse"
	protocolNDJSON = "ndjson"
)

// eventsRoom returns the room of a request for the events route.
func eventsRoom(r *http.Request) (string, bool) {
	if r.Method != http.MethodGet {
		return "", false
	}
	rest, ok := strings.CutPrefix(r.URL.Path, restPrefix+"rooms/")
	if !ok {
		return "", false
	}
	room, ok := strings.CutSuffix(rest, "/events")
	return room, ok && room != "" && !strings.Contains(room, "/")
}

// serveEvents serves the events route for roomID.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request, roomID string) {
	ctx := r.Context()
	out := &eventStream{s: s, ctx: ctx, w: w, ndjson: prefersNDJSON(r.Header.Get("Accept"))}
	protocol := protocolSSE
	if out.ndjson {
		protocol = protocolNDJSON
	}
	if info := requestInfoFrom(ctx); info != nil {
		rec := &info.call
		rec.procedure, rec.protocol, rec.codec = parleyv1connect.MessageServiceSubscribeProcedure, protocol, "json"
	}
	start := time.Now()
	if started := s.obs.StreamStarted; started != nil {
		started(ctx, parleyv1connect.MessageServiceSubscribeProcedure, protocol)
	}
	err := s.streamEvents(ctx, r, roomID, out)
	if ended := s.obs.StreamEnded; ended != nil {
		ended(ctx, parleyv1connect.MessageServiceSubscribeProcedure, s.streamEnd(ctx, err), time.Since(start))
	}
	err = s.connectError(ctx, err)
	s.record(ctx, err, "", "") // named above
	if !out.opened {
		writeRESTStatus(w, err)
		return
	}
	out.end(err)
}

// streamEvents authenticates, takes one of the user's open streams and
// runs the subscription; it returns why the stream ended.
func (s *Server) streamEvents(ctx context.Context, r *http.Request, roomID string, out *eventStream) error {
	p, ticket, err := s.eventsPrincipal(ctx, r, roomID)
	if err != nil {
		return err
	}
	since, err := eventsSince(r)
	if err != nil {
		return err
	}
	release, err := s.quotas.openStream(p.user.ID)
	if err != nil {
		return err
	}
	defer release()
	out.ticket = ticket
	return s.subscribe(ctx, p, roomID, since, out)
}

// eventsPrincipal is the caller of the events route: the bearer token's,
// or else the ticket's (not nil then) for the room.
func (s *Server) eventsPrincipal(ctx context.Context, r *http.Request, roomID string) (*principal, *streamTicket, error) {
	c := callerFrom(ctx)
	switch {
	case c.err != nil:
		return nil, nil, c.err
	case c.principal != nil:
		return c.principal, nil, nil
	}
	ticket := r.URL.Query().Get("ticket")
	if ticket == "" {
		return nil, nil, errMissingCredentials
	}
	return s.principalForTicket(ctx, ticket, roomID)
}

var errMissingCredentials = parley.Errorf(parley.EUNAUTHORIZED,
	"missing credentials: send Authorization: Bearer <token>, or ?ticket= from CreateStreamTicket")

// eventsSince is where a request resumes: Last-Event-ID (what EventSource
// sends when it reconnects), else ?since_seq=, else 0.
func eventsSince(r *http.Request) (int64, error) {
	field, v := "Last-Event-ID", r.Header.Get("Last-Event-ID")
	if v == "" {
		field, v = "since_seq", r.URL.Query().Get("since_seq")
	}
	if v == "" {
		return 0, nil
	}
	since, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, parley.Invalid([]parley.FieldViolation{{Field: field, Description: "must be a seq (a whole number)"}})
	}
	return since, nil
}

// prefersNDJSON reports whether an Accept header ranks application/x-ndjson
// above text/event-stream; SSE wins ties and is the default.
func prefersNDJSON(accept string) bool {
	quality := func(want string) float64 {
		best := 0.0
		for _, part := range strings.Split(accept, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || mt != want {
				continue
			}
			q := 1.0
			if v, ok := params["q"]; ok {
				if q, err = strconv.ParseFloat(v, 64); err != nil {
					q = 0
				}
			}
			best = max(best, q)
		}
		return best
	}
	return quality("application/x-ndjson") > quality("text/event-stream")
}

// eventStream is an eventSink writing SSE or NDJSON to an HTTP response.
type eventStream struct {
	s      *Server
	ctx    context.Context
	w      http.ResponseWriter
	ndjson bool
	ticket *streamTicket // renewed at each heartbeat; nil when opened with a token
	opened bool
	buf    []byte // what is written next
	json   []byte // an event's JSON
}

// eventJSON is Subscribe's JSON codec, whose encodings of room events are
// shared with every JSON subscriber.
var eventJSON = &sharingCodec{name: "json", json: true}

func (e *eventStream) Open() error {
	h := e.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	if e.ndjson {
		h.Set("Content-Type", "application/x-ndjson")
	}
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	e.w.WriteHeader(http.StatusOK)
	e.opened = true
	if !e.ndjson {
		e.buf = append(e.buf[:0], "retry: "...)
		e.buf = strconv.AppendInt(e.buf, sseRetry.Milliseconds(), 10)
		e.buf = append(e.buf, "\n\n"...)
	}
	return e.write()
}

func (e *eventStream) Event(ev *parley.Event) error {
	b, err := eventJSON.MarshalAppend(e.json[:0], &eventFrame{shared: ev})
	if err != nil {
		return err
	}
	e.json = b
	if string(b) == "{}" {
		return nil // not a Subscribe event (a read marker)
	}
	e.buf = e.buf[:0]
	if !e.ndjson {
		if ev.Kind.Logged() {
			e.buf = append(e.buf, "id: "...)
			e.buf = strconv.AppendInt(e.buf, ev.Seq, 10)
			e.buf = append(e.buf, '\n')
		}
		e.buf = append(e.buf, "data: "...)
	}
	e.buf = append(e.buf, b...)
	if !e.ndjson {
		e.buf = append(e.buf, '\n')
	}
	e.buf = append(e.buf, '\n')
	return e.write()
}

func (e *eventStream) Heartbeat(now time.Time, lastSeq int64) error {
	if e.ticket != nil {
		e.s.renewTicket(e.ctx, e.ticket)
	}
	if e.ndjson {
		b, err := protojson.Marshal(&parleyv1.SubscribeResponse{Event: &parleyv1.SubscribeResponse_Heartbeat{
			Heartbeat: &parleyv1.Heartbeat{Time: timeToProto(now), LastSeq: lastSeq},
		}})
		if err != nil {
			return err
		}
		e.buf = append(append(e.buf[:0], b...), '\n')
		return e.write()
	}
	e.buf = append(e.buf[:0], ": heartbeat "...)
	e.buf = now.UTC().AppendFormat(e.buf, time.RFC3339Nano)
	e.buf = append(e.buf, " last_seq="...)
	e.buf = strconv.AppendInt(e.buf, lastSeq, 10)
	e.buf = append(e.buf, "\n\n"...)
	return e.write()
}

// end writes why the stream ended: an SSE error event, or an NDJSON error
// line, with the google.rpc.Status of err.
func (e *eventStream) end(err error) {
	status := restStatusJSON(err)
	if e.ndjson {
		e.buf = append(append(append(e.buf[:0], `{"error":`...), status...), "}\n"...)
	} else {
		e.buf = append(append(append(e.buf[:0], "event: error\ndata: "...), status...), "\n\n"...)
	}
	_ = e.write()
}

// write writes buf and flushes, unless the subscription holds flushes
// while it writes a batch (flush.go).
func (e *eventStream) write() error {
	if _, err := e.w.Write(e.buf); err != nil {
		return err
	}
	if f, ok := e.w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}
