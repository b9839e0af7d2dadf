package client

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"

	"connectrpc.com/connect"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
)

// chatTries is how often Chat.Send tries a message across reconnects.
const chatTries = 5

// rejoinPrefix marks the frame ids of the joins sent after a reconnect.
const rejoinPrefix = "rejoin:"

// ChatEvent is something that happened in a joined room: Event is an event
// of the room log (a message, an edit, a deletion, a member change) or the
// caller's own read marker (parley.EventReadMarker); for a typing notice
// it is nil and Typing is set.
type ChatEvent struct {
	Event  *parley.Event
	Typing *Typing
}

// Typing tells that a user is typing in a room.
type Typing struct {
	RoomID string
	User   parley.User
}

// Chat is one bidirectional Chat stream that survives the server: when it
// breaks, it reconnects with backoff, joins its rooms again after the last
// seq it delivered for each, drops messages it already delivered, and
// sends a message whose acknowledgement was lost again under the same
// client message id (so it is stored once). Receive from one goroutine;
// Join, Leave, Send and Typing may be called from any.
type Chat struct {
	c      *Client
	ctx    context.Context
	cancel context.CancelFunc
	events chan ChatEvent
	done   chan struct{} // closed when the stream is over for good

	writeMu sync.Mutex // one writer at a time on the stream

	mu        sync.Mutex
	stream    *connect.BidiStreamForClient[parleyv1.ChatRequest, parleyv1.ChatResponse]
	up        chan struct{} // closed once the current stream is open
	rooms     map[string]*chatRoom
	pending   map[string]chan chatResult
	nextFrame int
	err       error

	event ChatEvent
}

// chatRoom is a room of the chat: the last seq delivered, and whether the
// server acknowledged the join (only those are joined again after a
// reconnect; a join in flight is sent again by Join itself).
type chatRoom struct {
	last   int64
	joined bool
}

type chatResult struct {
	ack *parleyv1.ChatAck
	err error
}

// errStreamBroken fails the frames in flight when the stream breaks; Send
// tries again on the next stream.
var errStreamBroken = parley.Errorf(parley.EUNAVAILABLE, "chat stream broken; reconnecting")

// Chat opens a Chat stream. It needs HTTP/2: with WithHTTP1 it fails at once
// with ENOTIMPLEMENTED. Join rooms to receive their events; the stream ends
// when ctx ends, Close is called, or the server refuses it for good
// (EUNAUTHORIZED, ENOTIMPLEMENTED).
func (c *Client) Chat(ctx context.Context) (*Chat, error) {
	if c.cfg.http1 {
		return nil, parley.Errorf(parley.ENOTIMPLEMENTED, "chat is a bidirectional stream and needs HTTP/2: HTTP/1.1 cannot carry it")
	}
	ctx, cancel := context.WithCancel(ctx)
	ch := &Chat{
		c: c, ctx: ctx, cancel: cancel,
		events:  make(chan ChatEvent, 64),
		done:    make(chan struct{}),
		up:      make(chan struct{}),
		rooms:   map[string]*chatRoom{},
		pending: map[string]chan chatResult{},
	}
	go ch.loop()
	return ch, nil
}

// loop keeps a stream open and reads it until the chat is over.
func (ch *Chat) loop() {
	defer close(ch.done)
	defer close(ch.events)
	b := ch.c.newBackoff()
	everUp := false
	for {
		stream := ch.c.messages.Chat(ch.ctx)
		// Canceling the context does not unblock a Receive on an HTTP/2
		// stream whose request body is still open (it waits for the
		// server's next heartbeat); closing our side makes the server end
		// the stream at once.
		streamDone := make(chan struct{})
		go func() {
			select {
			case <-ch.ctx.Done():
				ch.writeMu.Lock()
				_ = stream.CloseRequest()
				ch.writeMu.Unlock()
			case <-streamDone:
			}
		}()
		err := ch.open(stream)
		for err == nil {
			var res *parleyv1.ChatResponse
			if res, err = stream.Receive(); err == nil {
				everUp = true
				b.reset()
				ch.handle(res)
			}
		}
		if errors.Is(err, io.EOF) {
			err = nil
		}
		close(streamDone)
		ch.writeMu.Lock()
		_ = stream.CloseRequest()
		ch.writeMu.Unlock()
		_ = stream.CloseResponse()
		ch.mu.Lock()
		ch.stream = nil
		ch.up = make(chan struct{})
		for id, p := range ch.pending {
			p <- chatResult{err: errStreamBroken}
			delete(ch.pending, id)
		}
		ch.mu.Unlock()

		if err == nil {
			err = parley.Errorf(parley.EUNAVAILABLE, "connection to the server lost")
		}
		err = domainError(ch.ctx, err)
		if ch.ctx.Err() != nil || !everUp || !retryable(err) {
			ch.fail(err)
			return
		}
		ch.c.cfg.logger.WarnContext(ch.ctx, "chat interrupted; reconnecting", "err", err)
		if err := b.wait(ch.ctx); err != nil {
			ch.fail(err)
			return
		}
	}
}

// open sends the request headers and joins every room again after the
// last seq delivered; the acks of those joins are not waited for.
func (ch *Chat) open(stream *connect.BidiStreamForClient[parleyv1.ChatRequest, parleyv1.ChatResponse]) error {
	ch.writeMu.Lock()
	defer ch.writeMu.Unlock()
	if err := stream.Send(nil); err != nil {
		return err
	}
	ch.mu.Lock()
	rooms := make(map[string]int64, len(ch.rooms))
	for id, r := range ch.rooms {
		if r.joined {
			rooms[id] = r.last
		}
	}
	ch.stream = stream
	close(ch.up)
	ch.mu.Unlock()
	for id, last := range rooms {
		req := &parleyv1.ChatRequest{FrameId: rejoinPrefix + id, Frame: &parleyv1.ChatRequest_Join{Join: &parleyv1.ChatJoin{RoomId: id, SinceSeq: last}}}
		if err := stream.Send(req); err != nil {
			return err
		}
	}
	return nil
}

func (ch *Chat) fail(err error) {
	ch.mu.Lock()
	ch.err = err
	ch.mu.Unlock()
}

// fresh reports whether seq is new in a joined room, and records it.
func (ch *Chat) fresh(room string, seq int64) bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	r, ok := ch.rooms[room]
	if !ok || seq <= r.last {
		return false
	}
	r.last = seq
	return true
}

// handle dispatches one frame from the server.
func (ch *Chat) handle(res *parleyv1.ChatResponse) {
	var ev ChatEvent
	switch f := res.GetFrame().(type) {
	case *parleyv1.ChatResponse_Message:
		seq, room := f.Message.GetSeq(), f.Message.GetRoomId()
		ch.mu.Lock()
		r, ok := ch.rooms[room]
		fresh := ok && seq > r.last
		if fresh {
			r.last = seq
		}
		ch.mu.Unlock()
		if !fresh {
			return // left, or delivered before a reconnect
		}
		ev.Event = messageEvent(f.Message)
	case *parleyv1.ChatResponse_MessageEdited, *parleyv1.ChatResponse_MessageDeleted:
		kind, change := parley.EventMessageEdited, res.GetMessageEdited()
		if change == nil {
			kind, change = parley.EventMessageDeleted, res.GetMessageDeleted()
		}
		if !ch.fresh(change.GetMessage().GetRoomId(), change.GetSeq()) {
			return // left, or delivered before a reconnect
		}
		ev.Event = changeEvent(kind, change)
	case *parleyv1.ChatResponse_MemberJoined:
		if !ch.fresh(f.MemberJoined.GetRoomId(), f.MemberJoined.GetSeq()) {
			return // left, or delivered before a reconnect
		}
		ev.Event = memberEvent(parley.EventMemberJoined, parley.EventMemberAdded, f.MemberJoined)
	case *parleyv1.ChatResponse_MemberLeft:
		if !ch.fresh(f.MemberLeft.GetRoomId(), f.MemberLeft.GetSeq()) {
			return
		}
		ev.Event = memberEvent(parley.EventMemberLeft, parley.EventMemberRemoved, f.MemberLeft)
	case *parleyv1.ChatResponse_ReadMarker:
		ev.Event = readMarkerEvent(f.ReadMarker)
	case *parleyv1.ChatResponse_Typing:
		ev.Typing = &Typing{RoomID: f.Typing.GetRoomId(), User: userFromProto(f.Typing.GetUser())}
	case *parleyv1.ChatResponse_Ack:
		ch.resolve(f.Ack.GetFrameId(), chatResult{ack: f.Ack})
		return
	case *parleyv1.ChatResponse_Error:
		if room, ok := strings.CutPrefix(f.Error.GetFrameId(), rejoinPrefix); ok {
			// Joining again after a reconnect failed (the caller was
			// removed from the room meanwhile): stop expecting its events.
			ch.mu.Lock()
			delete(ch.rooms, room)
			ch.mu.Unlock()
			ch.c.cfg.logger.WarnContext(ch.ctx, "could not join the room again after reconnecting", "room", room, "err", chatError(f.Error))
			return
		}
		ch.resolve(f.Error.GetFrameId(), chatResult{err: chatError(f.Error)})
		return
	default: // heartbeats, and frames this client does not know
		return
	}
	select {
	case ch.events <- ev:
	case <-ch.ctx.Done():
	}
}

func (ch *Chat) resolve(frameID string, r chatResult) {
	ch.mu.Lock()
	p, ok := ch.pending[frameID]
	delete(ch.pending, frameID)
	ch.mu.Unlock()
	if ok {
		p <- r
	}
}

// chatError converts a ChatError frame to a *parley.Error.
func chatError(e *parleyv1.ChatError) error {
	var code connect.Code
	domain := parley.EINTERNAL
	if err := code.UnmarshalText([]byte(e.GetCode())); err == nil {
		if d, ok := codes[code]; ok {
			domain = d
		}
	}
	out := &parley.Error{Code: domain, Message: e.GetMessage()}
	for _, v := range e.GetFieldViolations() {
		out.Violations = append(out.Violations, parley.FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
	}
	if d := e.GetRetryDelay(); d != nil && code == connect.CodeResourceExhausted {
		out.Code = parley.ERATELIMITED
		out.RetryAfter = d.AsDuration()
	}
	return out
}

// call sends one frame and waits for its ack or error. A frame lost to a
// broken stream reports errStreamBroken; with wait set, call first waits
// for a stream to be open.
func (ch *Chat) call(ctx context.Context, req *parleyv1.ChatRequest) (*parleyv1.ChatAck, error) {
	ch.mu.Lock()
	up := ch.up
	ch.mu.Unlock()
	select {
	case <-up:
	case <-ch.done:
		return nil, ch.Err()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	result := make(chan chatResult, 1)
	ch.mu.Lock()
	stream := ch.stream
	if stream == nil {
		ch.mu.Unlock()
		return nil, errStreamBroken
	}
	ch.nextFrame++
	req.FrameId = "f" + strconv.Itoa(ch.nextFrame)
	ch.pending[req.FrameId] = result
	ch.mu.Unlock()

	ch.writeMu.Lock()
	err := stream.Send(req)
	ch.writeMu.Unlock()
	// A failed Send needs no handling here: the reader sees the broken
	// stream too and fails the frame with errStreamBroken.
	_ = err
	select {
	case r := <-result:
		return r.ack, r.err
	case <-ch.done:
		return nil, ch.Err()
	case <-ctx.Done():
		ch.mu.Lock()
		delete(ch.pending, req.FrameId)
		ch.mu.Unlock()
		return nil, ctx.Err()
	}
}

// Join starts receiving a room's events after sinceSeq (0 replays all
// stored messages) and returns the room's head seq. After a reconnect the
// room is joined again by itself. Errors: ENOTFOUND, EFORBIDDEN, EINVALID.
func (ch *Chat) Join(ctx context.Context, roomID string, sinceSeq int64) (int64, error) {
	ch.mu.Lock()
	if _, ok := ch.rooms[roomID]; ok {
		ch.mu.Unlock()
		return 0, parley.Errorf(parley.EPRECONDITION, "room already joined on this chat")
	}
	r := &chatRoom{last: sinceSeq}
	ch.rooms[roomID] = r
	ch.mu.Unlock()
	for try := 1; ; try++ {
		ch.mu.Lock()
		since := r.last // messages may have arrived before a broken stream
		ch.mu.Unlock()
		ack, err := ch.call(ctx, &parleyv1.ChatRequest{Frame: &parleyv1.ChatRequest_Join{Join: &parleyv1.ChatJoin{RoomId: roomID, SinceSeq: since}}})
		if errors.Is(err, errStreamBroken) && try < chatTries {
			continue
		}
		ch.mu.Lock()
		defer ch.mu.Unlock()
		if err != nil {
			delete(ch.rooms, roomID)
			return 0, err
		}
		r.joined = true
		return ack.GetHeadSeq(), nil
	}
}

// Leave stops receiving a room's events; membership is unchanged.
func (ch *Chat) Leave(ctx context.Context, roomID string) error {
	ch.mu.Lock()
	delete(ch.rooms, roomID)
	ch.mu.Unlock()
	_, err := ch.call(ctx, &parleyv1.ChatRequest{Frame: &parleyv1.ChatRequest_Leave{Leave: &parleyv1.ChatLeave{RoomId: roomID}}})
	if errors.Is(err, errStreamBroken) {
		return nil // not joined again on the next stream
	}
	return err
}

// Send posts a message, like Client.SendMessage, over the stream and
// returns it as stored. If the stream breaks before the acknowledgement,
// it sends again on the next stream under the same client message id.
func (ch *Chat) Send(ctx context.Context, roomID, text string, opts ...SendOption) (parley.Message, error) {
	send := newSendRequest(roomID, text, opts)
	for try := 1; ; try++ {
		ack, err := ch.call(ctx, &parleyv1.ChatRequest{Frame: &parleyv1.ChatRequest_Send{Send: send}})
		if errors.Is(err, errStreamBroken) && try < chatTries {
			continue
		}
		if err != nil {
			return parley.Message{}, err
		}
		return messageFromProto(ack.GetMessage()), nil
	}
}

// Typing tells the room's other chatters that the caller is typing. It
// does not wait for an answer and is dropped while reconnecting.
func (ch *Chat) Typing(roomID string) error {
	ch.mu.Lock()
	stream := ch.stream
	ch.mu.Unlock()
	if stream == nil {
		return nil
	}
	ch.writeMu.Lock()
	defer ch.writeMu.Unlock()
	_ = stream.Send(&parleyv1.ChatRequest{Frame: &parleyv1.ChatRequest_Typing{Typing: &parleyv1.ChatTyping{RoomId: roomID}}})
	return nil
}

// Receive waits for the next event of a joined room and reports whether
// there is one; when it returns false, Err tells why.
func (ch *Chat) Receive() bool {
	ev, ok := <-ch.events
	ch.event = ev
	return ok
}

// Event returns the event Receive reported.
func (ch *Chat) Event() ChatEvent { return ch.event }

// Err returns why the chat ended: the context's error after Close or
// cancellation, otherwise a *parley.Error. It is nil while the chat runs.
func (ch *Chat) Err() error {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.err
}

// Close ends the chat and waits for its stream to close.
func (ch *Chat) Close() error {
	ch.cancel()
	for range ch.events {
		// drain so the reader is never stuck delivering
	}
	<-ch.done
	return nil
}
