package server

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parley-chat/parley"
)

// maxChatRooms is how many rooms one Chat stream may join at once.
const maxChatRooms = 100

// errClientClosed ends a Chat stream whose client closed its side.
var errClientClosed = errors.New("client closed the stream")

// chatConn is one Chat stream as the core sees it: the client's commands
// in, replies out. chat_connect.go implements it over a Connect bidi
// stream; another encoding of Chat would be another chatConn.
type chatConn interface {
	// Open establishes the stream (sends the response headers).
	Open() error
	// Receive returns the client's next command. Any error ends reading:
	// io.EOF when the client closed its side.
	Receive() (chatCommand, error)
	// Send writes one reply. Only the session's handler goroutine calls it.
	Send(chatReply) error
}

// chatCommandKind says what a client's Chat frame asks for.
type chatCommandKind int

// The commands of a Chat stream; the zero kind is a frame with none set.
const (
	chatJoin chatCommandKind = iota + 1
	chatLeave
	chatSend
	chatTyping
)

// chatCommand is one frame from the client.
type chatCommand struct {
	frameID  string
	kind     chatCommandKind
	roomID   string          // join, leave and typing
	sinceSeq int64           // join
	send     outgoingMessage // send
	size     int64           // what the frame took on the stream after decompression (chatBytes)
}

// chatReply is one frame to the client: exactly one of event, ack,
// failure and heartbeat is set.
type chatReply struct {
	event     *parley.Event // a room event of a joined room
	room      *chatRoom     // the room event's, to track what was sent
	ack       *chatAck
	failure   *chatFailure
	heartbeat time.Time
}

// chatAck answers a join, leave or send that succeeded.
type chatAck struct {
	frameID string
	headSeq int64           // join: the room's head when the replay started
	message *parley.Message // send: the stored message
}

// chatFailure answers a frame that failed; the stream goes on.
type chatFailure struct {
	frameID string // "" when no frame is answered (e.g. the user left a room)
	err     error
}

// chat runs a Chat stream: the calling goroutine is the only one that
// sends; a reader goroutine handles the client's commands, each joined
// room runs a roomFeed (the same code as Subscribe) in its own goroutine,
// and all of them hand replies to the sender through one channel.
func (s *Server) chat(ctx context.Context, p *principal, conn chatConn) error {
	if err := s.draining(); err != nil {
		return err
	}
	ctx, stop := s.streams.watchSession(ctx, p)
	defer stop()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	c := &chatSession{s: s, p: p, ctx: ctx, cancel: cancel, out: make(chan chatReply, 64), rooms: make(map[string]*chatRoom)}
	defer c.leaveAll()
	if err := conn.Open(); err != nil {
		return err
	}
	go c.read(conn)

	flush := flushHoldFrom(ctx)
	heartbeat := time.NewTicker(s.cfg.heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case reply := <-c.out:
			if err := c.send(conn, reply, flush); err != nil {
				return err
			}
		case <-heartbeat.C:
			if err := s.recheckSession(ctx, p); err != nil {
				return err
			}
			if err := conn.Send(chatReply{heartbeat: s.now()}); err != nil {
				return err
			}
		case <-ctx.Done():
			if cause := revokedBy(ctx); cause != nil {
				return cause
			}
			if s.draining() != nil { // a feed, or the reader, saw it first
				return c.ended(errDraining)
			}
			if cause := context.Cause(ctx); errors.Is(cause, errClientClosed) {
				return c.flush(conn)
			} else if cause != nil && !errors.Is(cause, context.Canceled) {
				return c.ended(cause)
			}
			return ctx.Err()
		case <-s.drain.Done():
			return c.ended(errDraining)
		}
	}
}

// chatSession is the state of one Chat stream.
type chatSession struct {
	s      *Server
	p      *principal
	ctx    context.Context
	cancel context.CancelCauseFunc
	out    chan chatReply

	mu    sync.Mutex
	rooms map[string]*chatRoom
}

// chatRoom is a joined room: its feed's goroutine and how to stop it, and
// the seq of the last of its messages sent to the client (the since_seq
// of the join until one is), which only the handler goroutine touches.
type chatRoom struct {
	stop context.CancelFunc
	done chan struct{}
	sent int64
}

// send sends reply and then, with flushes held (see flushHold), up to
// maxHeldMessages-1 replies queued behind it, then returns to the handler's
// select so cancellation is seen in a busy stream too; a lone reply is
// flushed at once. Only the handler goroutine reads c.out while the stream
// runs.
func (c *chatSession) send(conn chatConn, reply chatReply, flush *flushHold) error {
	flush.hold()
	defer flush.release()
	for sent := 1; ; sent++ {
		if err := c.sendOne(conn, reply); err != nil {
			return err
		}
		if len(c.out) == 0 || sent == maxHeldMessages {
			return nil
		}
		reply = <-c.out
	}
}

// sendOne sends a reply and notes how far its room got.
func (c *chatSession) sendOne(conn chatConn, reply chatReply) error {
	if err := conn.Send(reply); err != nil {
		return err
	}
	if reply.room != nil {
		if seq := reply.event.Seq; seq > reply.room.sent {
			reply.room.sent = seq
		}
	}
	return nil
}

// flush sends the replies already queued: the answers to every frame the
// client sent before closing its side.
func (c *chatSession) flush(conn chatConn) error {
	for {
		select {
		case reply := <-c.out:
			if err := c.sendOne(conn, reply); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// ended decides how a Chat stream that ends early ends: an error the
// client should rejoin after (shutdown, a reader too slow in a room, too
// many bytes from the client) carries a StreamPosition per room joined,
// the last seq sent to the client in each, sorted by room. Only the
// handler goroutine calls it.
func (c *chatSession) ended(err error) error {
	var perr *parley.Error
	if !errors.As(err, &perr) {
		return err
	}
	switch perr.Code {
	case parley.EUNAVAILABLE, parley.ESLOWCONSUMER, parley.ETOOLARGE:
	default:
		return err
	}
	e := *perr
	e.Positions = nil // a feed's own: what it queued, not what was sent
	c.mu.Lock()
	for id, room := range c.rooms {
		e.Positions = append(e.Positions, parley.StreamPosition{RoomID: id, LastSeq: room.sent})
	}
	c.mu.Unlock()
	slices.SortFunc(e.Positions, func(a, b parley.StreamPosition) int { return strings.Compare(a.RoomID, b.RoomID) })
	return &e
}

// read handles the client's commands until it closes its side or fails,
// or sends more than chatBytes allows.
func (c *chatSession) read(conn chatConn) {
	budget := newByteBucket(chatBurstBytes, chatBytesPerSecond, c.s.now())
	for {
		cmd, err := conn.Receive()
		if err != nil {
			c.cancel(errClientClosed) // io.EOF, or the connection is gone
			return
		}
		if !budget.take(c.s.now(), cmd.size) {
			c.cancel(errChatTooManyBytes)
			return
		}
		if reply, ok := c.handle(cmd); ok && !c.emit(reply) {
			return
		}
	}
}

// emit hands a reply to the sender; false once the stream is over.
func (c *chatSession) emit(reply chatReply) bool {
	select {
	case c.out <- reply:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// handle answers one command with an ack or a failure (or nothing, for
// typing: ok is false).
func (c *chatSession) handle(cmd chatCommand) (reply chatReply, ok bool) {
	var err error
	ack := &chatAck{frameID: cmd.frameID}
	switch cmd.kind {
	case chatJoin:
		ack.headSeq, err = c.join(cmd.roomID, cmd.sinceSeq)
	case chatLeave:
		err = c.leave(cmd.roomID)
	case chatSend:
		var msg parley.Message
		msg, err = c.s.sendMessage(c.ctx, c.p, cmd.send, "send.")
		if err == nil {
			ack.message = &msg
		}
	case chatTyping:
		if err = c.typing(cmd.roomID); err == nil {
			return chatReply{}, false
		}
	default:
		err = parley.Invalid([]parley.FieldViolation{{Field: "frame", Description: "one of join, leave, send or typing is required"}})
	}
	if err != nil {
		return chatReply{failure: &chatFailure{frameID: cmd.frameID, err: err}}, true
	}
	return chatReply{ack: ack}, true
}

// join replays the room after since and starts its live feed.
func (c *chatSession) join(roomID string, since int64) (int64, error) {
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
	ctx, cancel := context.WithCancel(c.ctx)
	// The feed's context also ends when the membership is revoked; deliver
	// uses ctx, so the feed can still hand over what it has queued.
	feedCtx, stopMembership := c.s.streams.watchMembership(ctx, c.p.user.ID, roomID)
	stop := func() { stopMembership(); cancel() }
	room := &chatRoom{stop: stop, done: make(chan struct{}), sent: since}
	deliver := func(ev *parley.Event) error {
		if ev.Kind == parley.EventTyping && ev.User.ID == c.p.user.ID {
			return nil
		}
		select {
		case c.out <- chatReply{event: ev, room: room}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	feed, head, err := c.s.openFeed(feedCtx, c.p, roomID, since, deliver, nil)
	if err != nil {
		stop()
		return 0, err
	}
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
		defer stop() // also when the room ends by itself: forget the watch
		defer close(room.done)
		defer feed.Close()
		err := feed.run(nil, nil)
		switch {
		case ctx.Err() != nil:
			// left, or the whole stream ended
		case errors.Is(err, errLeftRoom), errors.Is(err, errMembershipRevoked):
			c.mu.Lock()
			if c.rooms[roomID] == room {
				delete(c.rooms, roomID)
			}
			c.mu.Unlock()
			c.emit(chatReply{failure: &chatFailure{err: err}})
		default:
			// Too slow, or the server drains: end the stream. The room
			// stays listed, so the end carries its position (ended).
			c.cancel(err)
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
	c.s.publish(c.ctx, &parley.Event{Kind: parley.EventTyping, RoomID: roomID, User: c.p.user, Time: c.s.now()})
	return nil
}
