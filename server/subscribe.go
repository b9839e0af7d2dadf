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
//
// An idle stream waits in this function's frame and those below it, for
// as long as the stream lasts, so what it keeps is on the heap (a
// subscription) and what runs only once is in functions of its own: the
// frames of a waiting stream stay small, and the garbage collector can
// shrink its goroutine's stack to 8 KiB.
func (s *Server) subscribe(ctx context.Context, p *principal, roomID string, since int64, sink eventSink) error {
	if err := s.checkSubscribe(ctx, p, roomID, since); err != nil {
		return err
	}
	sub := &subscription{s: s, p: p, roomID: roomID, sink: sink}
	defer sub.close()
	if err := sub.open(ctx, since); err != nil {
		return err
	}
	return sub.feed.run(sub.heartbeat.C, sub.onHeartbeat)
}

// subscription is what a Subscribe stream keeps while it runs.
type subscription struct {
	s      *Server
	ctx    context.Context // ends at the session's or the membership's end
	p      *principal
	roomID string
	sink   eventSink

	stopWatch func() // of the session and the membership
	feed      *roomFeed
	heartbeat *heartbeatTimer
}

// open watches the session and the membership (one context), opens the stream and the
// feed, and starts the heartbeat. What it opened is closed by close, also
// when it fails.
func (sub *subscription) open(ctx context.Context, since int64) error {
	s := sub.s
	ctx, sub.stopWatch = s.streams.watchSessionAndMembership(ctx, sub.p, sub.roomID)
	sub.ctx = ctx
	// Open the stream now, so clients (and proxies) know it is established
	// even if the room stays quiet.
	if err := sub.sink.Open(); err != nil {
		return err
	}
	feed, _, err := s.openFeed(ctx, sub.p, sub.roomID, since, sub.deliver, flushHoldFrom(ctx))
	if err != nil {
		return err
	}
	sub.feed = feed
	sub.heartbeat = s.heartbeats.start()
	return nil
}

// deliver writes a room event to the stream; typing notices are for Chat.
func (sub *subscription) deliver(ev *parley.Event) error {
	if ev.Kind == parley.EventTyping {
		return nil
	}
	return sub.sink.Event(ev)
}

// onHeartbeat re-checks the session and the membership, then writes a
// heartbeat.
func (sub *subscription) onHeartbeat() error {
	s := sub.s
	if err := s.recheckSession(sub.ctx, sub.p); err != nil {
		return err
	}
	if err := s.recheckMembership(sub.ctx, sub.p, sub.roomID); err != nil {
		return err
	}
	return sub.sink.Heartbeat(s.now(), sub.feed.last)
}

// close releases what open took, in reverse order.
func (sub *subscription) close() {
	if sub.heartbeat != nil {
		sub.heartbeat.Stop()
	}
	if sub.feed != nil {
		sub.feed.Close()
	}
	if sub.stopWatch != nil {
		sub.stopWatch()
	}
}

// checkSubscribe reports why p may not subscribe to the room from since,
// or nil.
func (s *Server) checkSubscribe(ctx context.Context, p *principal, roomID string, since int64) error {
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
	_, err := s.memberRoom(ctx, roomID, p.user.ID)
	return err
}
