package server

import (
	"context"
	"time"

	"github.com/parley-chat/parley"
)

// eventSink is where a subscription writes, as the core sees it.
// subscribe_connect.go implements it over a Connect server stream; another
// encoding of the same stream (SSE, NDJSON) would be another eventSink.
type eventSink interface {
	// Open establishes the stream (sends the response headers).
	Open() error
	// Event writes one room event (never a typing notice).
	Event(*parley.Event) error
	// Heartbeat writes a heartbeat carrying the last seq delivered.
	Heartbeat(now time.Time, lastSeq int64) error
}

// subscribe runs a subscription to a room for a member: one roomFeed
// (feed.go) replaying after since and then live, plus heartbeats that also
// re-check the session and the membership. It ends at once when either is
// revoked, on any replica (revocation.go), or the session expires. It
// returns why the stream ended.
func (s *Server) subscribe(ctx context.Context, p *principal, roomID string, since int64, sink eventSink) error {
	v := validateID("room_id", roomID)
	if since < 0 {
		v = append(v, parley.FieldViolation{Field: "since_seq", Description: "must not be negative"})
	}
	if err := parley.Invalid(v); err != nil {
		return err
	}
	if err := s.draining(); err != nil {
		return err
	}
	if _, err := s.memberRoom(ctx, roomID, p.user.ID); err != nil {
		return err
	}
	ctx, stopSession := s.streams.watchSession(ctx, p)
	defer stopSession()
	ctx, stopMembership := s.streams.watchMembership(ctx, p.user.ID, roomID)
	defer stopMembership()
	// Open the stream now, so clients (and proxies) know it is established
	// even if the room stays quiet.
	if err := sink.Open(); err != nil {
		return err
	}
	deliver := func(ev *parley.Event) error {
		if ev.Kind == parley.EventTyping {
			return nil // typing notices are for Chat
		}
		return sink.Event(ev)
	}
	feed, _, err := s.openFeed(ctx, p, roomID, since, deliver, flushHoldFrom(ctx))
	if err != nil {
		return err
	}
	defer feed.Close()
	heartbeat := time.NewTicker(s.cfg.heartbeat)
	defer heartbeat.Stop()
	return feed.run(heartbeat.C, func() error {
		if err := s.recheckSession(ctx, p); err != nil {
			return err
		}
		if err := s.recheckMembership(ctx, p, roomID); err != nil {
			return err
		}
		return sink.Heartbeat(s.now(), feed.last)
	})
}
