package server

import (
	"context"
	"errors"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
)

// maxChatRooms is how many rooms one Chat stream may join at once.
const maxChatRooms = 100

// errClientClosed ends a Chat stream whose client closed its side.
var errClientClosed = errors.New("client closed the stream")

// Chat serves MessageService.Chat. The handler goroutine is the only one
// that sends: a reader goroutine handles the client's frames, each joined
// room runs a roomFeed (the same code as Subscribe) in its own goroutine,
// and all of them hand frames to the sender through one channel.
func (h *messageHandler) Chat(ctx context.Context, stream *connect.BidiStream[parleyv1.ChatRequest, parleyv1.ChatResponse]) error {
	s := h.s
	p, err := principalFrom(ctx)
	if err != nil {
		return err
	}
	if err := s.draining(); err != nil {
		return err
	}
	ctx, stop := s.streams.watch(ctx, p)
	defer stop()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	c := &chatSession{s: s, p: p, ctx: ctx, cancel: cancel, out: make(chan *parleyv1.ChatResponse, 64), rooms: make(map[string]*chatRoom)}
	defer c.leaveAll()
	if err := stream.Send(nil); err != nil { // headers now: the stream is open
		return err
	}
	go c.read(stream)

	flush := flushHoldFrom(ctx)
	heartbeat := time.NewTicker(s.cfg.heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case frame := <-c.out:
			if err := c.send(stream, frame, flush); err != nil {
				return err
			}
		case <-heartbeat.C:
			if err := s.recheckSession(ctx, p); err != nil {
				return err
			}
			if err := stream.Send(&parleyv1.ChatResponse{Frame: &parleyv1.ChatResponse_Heartbeat{Heartbeat: &parleyv1.Heartbeat{Time: timeToProto(s.now())}}}); err != nil {
				return err
			}
		case <-ctx.Done():
			if cause := sessionEnded(ctx); cause != nil {
				return cause
			}
			if cause := context.Cause(ctx); errors.Is(cause, errClientClosed) {
				return c.flush(stream)
			} else if cause != nil && !errors.Is(cause, context.Canceled) {
				return cause
			}
			return ctx.Err()
		case <-s.drain.Done():
			return errDraining
		}
	}
}

// chatSession is the state of one Chat stream.
type chatSession struct {
	s      *Server
	p      *principal
	ctx    context.Context
	cancel context.CancelCauseFunc
	out    chan *parleyv1.ChatResponse

	mu    sync.Mutex
	rooms map[string]*chatRoom
}

// chatRoom is a joined room: its feed's goroutine and how to stop it.
type chatRoom struct {
	stop context.CancelFunc
	done chan struct{}
}

// send sends frame and then, with flushes held (see flushHold), up to
// maxHeldMessages-1 frames queued behind it, then returns to the handler's
// select so cancellation is seen in a busy stream too; a lone frame is
// flushed at once. Only the handler goroutine reads c.out while the stream
// runs.
func (c *chatSession) send(stream *connect.BidiStream[parleyv1.ChatRequest, parleyv1.ChatResponse], frame *parleyv1.ChatResponse, flush *flushHold) error {
	flush.hold()
	defer flush.release()
	for sent := 1; ; sent++ {
		if err := stream.Send(frame); err != nil {
			return err
		}
		if len(c.out) == 0 || sent == maxHeldMessages {
			return nil
		}
		frame = <-c.out
	}
}

// flush sends the frames already queued: the answers to every frame the
// client sent before closing its side.
func (c *chatSession) flush(stream *connect.BidiStream[parleyv1.ChatRequest, parleyv1.ChatResponse]) error {
	for {
		select {
		case frame := <-c.out:
			if err := stream.Send(frame); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// read handles the client's frames until it closes its side or fails.
func (c *chatSession) read(stream *connect.BidiStream[parleyv1.ChatRequest, parleyv1.ChatResponse]) {
	for {
		req, err := stream.Receive()
		if err != nil {
			c.cancel(errClientClosed) // io.EOF, or the connection is gone
			return
		}
		if resp := c.handle(req); resp != nil && !c.emit(resp) {
			return
		}
	}
}

// emit hands a frame to the sender; false once the stream is over.
func (c *chatSession) emit(frame *parleyv1.ChatResponse) bool {
	select {
	case c.out <- frame:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// handle answers one client frame with an ack or a ChatError (or nothing,
// for typing).
func (c *chatSession) handle(req *parleyv1.ChatRequest) *parleyv1.ChatResponse {
	id := req.GetFrameId()
	var err error
	ack := &parleyv1.ChatAck{FrameId: id}
	switch frame := req.GetFrame().(type) {
	case *parleyv1.ChatRequest_Join:
		ack.HeadSeq, err = c.join(frame.Join)
	case *parleyv1.ChatRequest_Leave:
		err = c.leave(frame.Leave.GetRoomId())
	case *parleyv1.ChatRequest_Send:
		var msg parley.Message
		msg, err = c.s.sendMessage(c.ctx, c.p, frame.Send, "send.")
		if err == nil {
			ack.Message = messageToProto(&msg)
		}
	case *parleyv1.ChatRequest_Typing:
		if err = c.typing(frame.Typing.GetRoomId()); err == nil {
			return nil
		}
	default:
		err = parley.Invalid([]parley.FieldViolation{{Field: "frame", Description: "one of join, leave, send or typing is required"}})
	}
	if err != nil {
		return &parleyv1.ChatResponse{Frame: &parleyv1.ChatResponse_Error{Error: c.s.chatError(c.ctx, id, err)}}
	}
	return &parleyv1.ChatResponse{Frame: &parleyv1.ChatResponse_Ack{Ack: ack}}
}

// join replays the room after since_seq and starts its live feed.
func (c *chatSession) join(j *parleyv1.ChatJoin) (int64, error) {
	roomID, since := j.GetRoomId(), j.GetSinceSeq()
	v := validateID("join.room_id", roomID)
	if since < 0 {
		v = append(v, parley.FieldViolation{Field: "join.since_seq", Description: "must not be negative"})
	}
	if err := parley.Invalid(v); err != nil {
		return 0, err
	}
	c.mu.Lock()
	_, joined := c.rooms[roomID]
	n := len(c.rooms)
	c.mu.Unlock()
	switch {
	case joined:
		return 0, parley.Errorf(parley.EPRECONDITION, "room already joined on this stream; leave it first")
	case n >= maxChatRooms:
		return 0, parley.Errorf(parley.ETOOLARGE, "at most %d rooms per stream", maxChatRooms)
	}
	if _, err := c.s.memberRoom(c.ctx, roomID, c.p.user.ID); err != nil {
		return 0, err
	}
	ctx, stop := context.WithCancel(c.ctx)
	deliver := func(ev *parley.Event) error {
		frame := chatFrame(ev)
		if frame == nil || ev.Kind == parley.EventTyping && ev.User.ID == c.p.user.ID {
			return nil
		}
		select {
		case c.out <- frame:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	feed, head, err := c.s.openFeed(ctx, c.p, roomID, since, deliver, nil)
	if err != nil {
		stop()
		return 0, err
	}
	room := &chatRoom{stop: stop, done: make(chan struct{})}
	c.mu.Lock()
	if c.rooms == nil { // the stream is ending
		c.mu.Unlock()
		stop()
		feed.Close()
		return 0, errDraining
	}
	c.rooms[roomID] = room
	c.mu.Unlock()
	go func() {
		defer close(room.done)
		defer feed.Close()
		err := feed.run(nil, nil)
		c.mu.Lock()
		if c.rooms[roomID] == room {
			delete(c.rooms, roomID)
		}
		c.mu.Unlock()
		switch {
		case ctx.Err() != nil:
			// left, or the whole stream ended
		case errors.Is(err, errLeftRoom):
			c.emit(&parleyv1.ChatResponse{Frame: &parleyv1.ChatResponse_Error{Error: c.s.chatError(c.ctx, "", err)}})
		default:
			c.cancel(err) // e.g. too slow: end the stream, with the position
		}
	}()
	return head, nil
}

func (c *chatSession) leave(roomID string) error {
	if err := parley.Invalid(validateID("leave.room_id", roomID)); err != nil {
		return err
	}
	c.mu.Lock()
	room, ok := c.rooms[roomID]
	delete(c.rooms, roomID)
	c.mu.Unlock()
	if !ok {
		return parley.Errorf(parley.EPRECONDITION, "room not joined on this stream")
	}
	room.stop()
	<-room.done
	return nil
}

func (c *chatSession) leaveAll() {
	c.mu.Lock()
	rooms := c.rooms
	c.rooms = nil
	c.mu.Unlock()
	for _, room := range rooms {
		room.stop()
		<-room.done
	}
}

func (c *chatSession) typing(roomID string) error {
	if err := parley.Invalid(validateID("typing.room_id", roomID)); err != nil {
		return err
	}
	c.mu.Lock()
	_, joined := c.rooms[roomID]
	c.mu.Unlock()
	if !joined {
		return parley.Errorf(parley.EPRECONDITION, "join the room on this stream before typing in it")
	}
	c.s.broker.Publish(&parley.Event{Kind: parley.EventTyping, RoomID: roomID, User: c.p.user, Time: c.s.now()})
	return nil
}

// chatFrame converts a room event to a Chat frame.
func chatFrame(ev *parley.Event) *parleyv1.ChatResponse {
	switch ev.Kind {
	case parley.EventMessage:
		return &parleyv1.ChatResponse{Frame: &parleyv1.ChatResponse_Message{Message: messageToProto(ev.Message)}}
	case parley.EventMemberJoined:
		return &parleyv1.ChatResponse{Frame: &parleyv1.ChatResponse_MemberJoined{MemberJoined: memberJoinedToProto(ev)}}
	case parley.EventMemberLeft:
		return &parleyv1.ChatResponse{Frame: &parleyv1.ChatResponse_MemberLeft{MemberLeft: memberLeftToProto(ev)}}
	case parley.EventTyping:
		return &parleyv1.ChatResponse{Frame: &parleyv1.ChatResponse_Typing{Typing: &parleyv1.Typing{RoomId: ev.RoomID, User: userToProto(ev.User)}}}
	}
	return nil
}

// chatError turns err into a ChatError frame: the same code and message a
// unary call would get, with field violations.
func (s *Server) chatError(ctx context.Context, frameID string, err error) *parleyv1.ChatError {
	cerr := new(connect.Error)
	errors.As(s.connectError(ctx, err), &cerr)
	out := &parleyv1.ChatError{FrameId: frameID, Code: cerr.Code().String(), Message: cerr.Message()}
	var perr *parley.Error
	if errors.As(err, &perr) {
		for _, v := range perr.Violations {
			out.FieldViolations = append(out.FieldViolations, &parleyv1.FieldViolation{Field: v.Field, Description: v.Description})
		}
	}
	return out
}
