package client

import (
	"context"

	"connectrpc.com/connect"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
)

// Subscription is a room's event stream that survives the server: when
// the stream breaks, the server restarts or cuts a slow reader off, it
// reconnects with backoff and resumes after the last seq it delivered,
// dropping any message it already delivered. Use it from one goroutine.
type Subscription struct {
	c      *Client
	ctx    context.Context
	cancel context.CancelFunc
	roomID string
	last   int64
	b      *backoff

	stream *connect.ServerStreamForClient[parleyv1.SubscribeResponse]
	event  *parley.Event
	err    error
}

// Subscribe streams a room's events: the room log after sinceSeq (0
// replays from the first: messages, edits, deletions, member changes),
// then live events of the log and the caller's own read markers.
// Heartbeats are consumed, never delivered. Call Receive in a loop; the
// stream ends only when ctx ends, Close is called, or the server refuses
// it for good (ENOTFOUND, EFORBIDDEN, EUNAUTHORIZED, EOUTOFRANGE).
func (c *Client) Subscribe(ctx context.Context, roomID string, sinceSeq int64) *Subscription {
	ctx, cancel := context.WithCancel(ctx)
	return &Subscription{c: c, ctx: ctx, cancel: cancel, roomID: roomID, last: sinceSeq, b: c.newBackoff()}
}

// Receive waits for the next event and reports whether there is one; when
// it returns false, Err tells why.
func (s *Subscription) Receive() bool {
	if s.err != nil {
		return false
	}
	for {
		if s.stream == nil {
			stream, err := s.c.messages.Subscribe(s.ctx, connect.NewRequest(&parleyv1.SubscribeRequest{RoomId: s.roomID, SinceSeq: s.last}))
			if err != nil {
				if !s.retry(domainError(s.ctx, err)) {
					return false
				}
				continue
			}
			s.stream = stream
		}
		if s.stream.Receive() {
			s.b.reset()
			ev := eventFromProto(s.stream.Msg())
			if ev == nil {
				continue
			}
			if ev.Kind.Logged() {
				if ev.Seq <= s.last {
					continue // already delivered before a reconnect
				}
				s.last = ev.Seq
			}
			s.event = ev
			return true
		}
		err := s.stream.Err()
		_ = s.stream.Close()
		s.stream = nil
		if err == nil {
			// The server ended the stream without an error, which it
			// does only while going away: resume.
			err = parley.Errorf(parley.EUNAVAILABLE, "connection to the server lost")
		}
		if !s.retry(domainError(s.ctx, err)) {
			return false
		}
	}
}

// retry decides after a failure: it waits out the backoff and reports true
// to reconnect, or records the error and reports false.
func (s *Subscription) retry(err error) bool {
	if s.ctx.Err() != nil {
		s.err = s.ctx.Err()
		return false
	}
	if !retryable(err) {
		s.err = err
		return false
	}
	s.c.cfg.logger.WarnContext(s.ctx, "subscription interrupted; reconnecting", "room", s.roomID, "last_seq", s.last, "err", err)
	if err := s.b.wait(s.ctx); err != nil {
		s.err = err
		return false
	}
	return true
}

// Event returns the event Receive reported.
func (s *Subscription) Event() *parley.Event { return s.event }

// Err returns why Receive returned false: the context's error after Close
// or cancellation, otherwise a *parley.Error.
func (s *Subscription) Err() error { return s.err }

// LastSeq returns the seq of the last room log event delivered (or the sinceSeq
// given to Subscribe): where a new subscription would resume.
func (s *Subscription) LastSeq() int64 { return s.last }

// Close ends the subscription. It is safe to call more than once and from
// another goroutine than Receive's.
func (s *Subscription) Close() error {
	s.cancel()
	return nil
}
