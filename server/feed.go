package server

import (
	"context"
	"errors"
	"time"

	"github.com/parley-chat/parley"
)

// replayPage is how many logged events a feed reads per query while
// replaying the room log.
const replayPage = 500

// keepBatch is the largest batch buffer a feed keeps between bursts; a
// larger one is left to the garbage collector, so an idle feed stays small.
const keepBatch = 16

// roomFeed delivers one room's events to one stream: Subscribe has one,
// Chat one per joined room. It registers with the broker first, then
// replays (since, head] from the store, then forwards live events, skipping
// those already replayed. Registering before reading is what closes the gap
// between history and live; the seq check removes the overlap. Should the
// live queue ever skip a seq, the hole is filled from the store, so a reader
// never sees a gap.
//
// Live events are taken from the queue in batches; when the feed writes
// to a stream itself (Subscribe), flush holds the stream's flushes while a
// batch or the replay is written (at most 64 messages go unflushed, also
// while the replay queries the store), so a reader that is behind gets
// many events per write.
type roomFeed struct {
	s       *Server
	ctx     context.Context
	roomID  string
	userID  string
	sub     parley.Subscription
	deliver func(*parley.Event) error
	flush   *flushHold // nil when deliver does not write to the stream
	last    int64      // seq of the last room log event delivered
	live    bool       // past the first replay: the reader's own leave ends the feed
}

// openFeed replays a room's history after since for a caller already found
// to be a member. It returns the feed, ready to run, and the head seq seen
// when it started. flush is the stream's flushHold when deliver writes to
// the stream from the goroutine that calls openFeed and run, else nil.
// The caller must Close the feed.
func (s *Server) openFeed(ctx context.Context, p *principal, roomID string, since int64, deliver func(*parley.Event) error, flush *flushHold) (*roomFeed, int64, error) {
	f := &roomFeed{s: s, ctx: ctx, roomID: roomID, userID: p.user.ID, deliver: deliver, flush: flush, last: since}
	var err error
	if f.sub, err = s.broker.Subscribe(ctx, roomID); err != nil {
		return nil, 0, f.end(err)
	}
	head, err := f.replay(since)
	if err == nil && since > head {
		err = parley.Errorf(parley.EOUTOFRANGE, "since_seq %d is beyond the newest message (seq %d)", since, head)
	}
	if err != nil {
		f.Close()
		return nil, 0, f.end(err)
	}
	f.live = true
	return f, head, nil
}

// Close stops the feed's subscription.
func (f *roomFeed) Close() { f.sub.Close() }

// run forwards live events until the stream's context ends, the server
// drains, or the reader falls too far behind; onTick runs at every tick.
// It always returns an error saying why it stopped (see end).
func (f *roomFeed) run(tick <-chan struct{}, onTick func() error) error {
	var batch []*parley.Event
	for {
		select {
		case <-f.ctx.Done():
			if errors.Is(context.Cause(f.ctx), errMembershipRevoked) {
				return f.end(f.forwardUntilLeft())
			}
			return f.end(f.ctx.Err())
		case <-f.s.drain.Done():
			return f.end(errDraining)
		case <-f.sub.Overflowed():
			if cut := f.s.obs.SlowConsumerCut; cut != nil {
				cut(f.roomID)
			}
			return f.end(parley.Errorf(parley.ESLOWCONSUMER, "reader fell too far behind and was cut off; resubscribe from last_seq"))
		case <-f.sub.Ready():
			var err error
			if batch, err = f.forwardQueued(batch); err != nil {
				return f.end(err)
			}
		case <-tick:
			if err := onTick(); err != nil {
				return f.end(err)
			}
		}
	}
}

// forwardQueued forwards what is queued, one Drain's worth, with flushes
// held (see flushHold), and returns to the feed's select, so cancellation,
// shutdown and heartbeats are seen between batches even in a room that
// never goes quiet; anything queued meanwhile has signalled Ready again.
// It returns batch emptied, for reuse.
func (f *roomFeed) forwardQueued(batch []*parley.Event) ([]*parley.Event, error) {
	f.flush.hold()
	defer f.flush.release()
	batch = f.sub.Drain(batch[:0])
	if depth := f.s.obs.QueueDepth; depth != nil {
		depth(len(batch))
	}
	var err error
	for _, ev := range batch {
		if err = f.forward(ev); err != nil {
			break
		}
	}
	clear(batch)
	if cap(batch) > keepBatch {
		return nil, err
	}
	return batch[:0], err
}

// forwardUntilLeft ends a feed whose membership was revoked. What is
// already queued still goes out, up to the reader's own member_left, which
// this process published just before it revoked: the reader sees why the
// stream ends. Another replica's feed has no such event queued and ends
// with the revocation.
func (f *roomFeed) forwardUntilLeft() error {
	for _, ev := range f.sub.Drain(nil) {
		if err := f.forward(ev); err != nil {
			return err // errLeftRoom, or a hole to fill: the store is not read for a reader that is out
		}
	}
	return errMembershipRevoked
}

// replay delivers the room log's events after `after` until it reaches the head
// and returns the head seq seen by the first query.
func (f *roomFeed) replay(after int64) (int64, error) {
	f.flush.hold()
	defer f.flush.release()
	var firstHead int64
	for first := true; ; first = false {
		events, head, err := f.s.store.ListEvents(f.ctx, f.roomID, after, replayPage)
		if err != nil {
			return 0, err
		}
		if first {
			firstHead = head
			if after > head {
				return head, nil
			}
		}
		for i := range events {
			if err := f.send(events[i]); err != nil {
				return 0, err
			}
		}
		if len(events) < replayPage {
			return firstHead, nil
		}
		after = events[len(events)-1].Seq
	}
}

// forward delivers a live event unless it was already replayed, filling any
// hole before it from the store.
func (f *roomFeed) forward(ev *parley.Event) error {
	if ev.Kind == parley.EventReadMarker && ev.User.ID != f.userID {
		return nil // private to the reader's own streams
	}
	if ev.Kind.Logged() {
		seq := ev.Seq
		if seq <= f.last {
			return nil
		}
		if seq > f.last+1 {
			if _, err := f.replay(f.last); err != nil {
				return err
			}
			if seq <= f.last {
				return nil
			}
		}
	}
	return f.send(ev)
}

var errLeftRoom = parley.Errorf(parley.EFORBIDDEN, "you left the room")

// send delivers ev. Once the feed is live, the reader's own member_left
// (live or filling a hole) ends it: they may no longer read the room. In
// the first replay it is history: they are a member again.
func (f *roomFeed) send(ev *parley.Event) error {
	if err := f.deliver(ev); err != nil {
		return err
	}
	if delivered := f.s.obs.Delivered; delivered != nil && !ev.Published.IsZero() {
		delivered(ev, time.Since(ev.Published))
	}
	if seq := ev.Seq; seq > 0 {
		f.last = seq
	}
	if f.live && (ev.Kind == parley.EventMemberLeft || ev.Kind == parley.EventMemberRemoved) && ev.User.ID == f.userID {
		return errLeftRoom
	}
	return nil
}

// end decides how a feed's stream ends: a revoked or expired session as
// unauthenticated, a revoked membership as permission_denied; early ends the client should resume from carry the
// room and the last seq delivered.
func (f *roomFeed) end(err error) error {
	if cause := revokedBy(f.ctx); cause != nil {
		return cause
	}
	var perr *parley.Error
	if errors.As(err, &perr) && (perr.Code == parley.ESLOWCONSUMER || perr.Code == parley.EUNAVAILABLE) {
		e := *perr
		e.Positions = []parley.StreamPosition{{RoomID: f.roomID, LastSeq: f.last}}
		return &e
	}
	return err
}
