package server

import (
	"context"
	"errors"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
)

// Chat serves MessageService.Chat: the chat core (chat.go) over a Connect
// or gRPC bidi stream.
func (h *messageHandler) Chat(ctx context.Context, stream *connect.BidiStream[parleyv1.ChatRequest, parleyv1.ChatResponse]) error {
	p, err := principalFrom(ctx)
	if err != nil {
		return err
	}
	return h.s.chat(ctx, p, &chatStream{s: h.s, ctx: ctx, stream: stream, bytes: streamBytesFrom(ctx)})
}

// chatStream is a chatConn over a Connect bidi stream.
type chatStream struct {
	s      *Server
	ctx    context.Context
	stream *connect.BidiStream[parleyv1.ChatRequest, parleyv1.ChatResponse]
	bytes  *streamBytes
}

func (c *chatStream) Open() error { return c.stream.Send(nil) }

func (c *chatStream) Receive() (chatCommand, error) {
	req, err := c.stream.Receive()
	if err != nil {
		return chatCommand{}, err
	}
	cmd := chatCommand{frameID: req.GetFrameId(), size: c.bytes.next()}
	switch frame := req.GetFrame().(type) {
	case *parleyv1.ChatRequest_Join:
		cmd.kind, cmd.roomID, cmd.sinceSeq = chatJoin, frame.Join.GetRoomId(), frame.Join.GetSinceSeq()
	case *parleyv1.ChatRequest_Leave:
		cmd.kind, cmd.roomID = chatLeave, frame.Leave.GetRoomId()
	case *parleyv1.ChatRequest_Send:
		cmd.kind, cmd.send = chatSend, outgoingFromProto(frame.Send)
	case *parleyv1.ChatRequest_Typing:
		cmd.kind, cmd.roomID = chatTyping, frame.Typing.GetRoomId()
	}
	return cmd, nil
}

func (c *chatStream) Send(r chatReply) error {
	var frame *parleyv1.ChatResponse
	switch {
	case r.event != nil:
		var ok bool
		if frame, ok = eventToProto(r.event, chatFrames); !ok {
			return nil // a kind Chat does not carry
		}
	case r.ack != nil:
		ack := &parleyv1.ChatAck{FrameId: r.ack.frameID, HeadSeq: r.ack.headSeq}
		if r.ack.message != nil {
			ack.Message = messageToProto(r.ack.message)
		}
		frame = &parleyv1.ChatResponse{Frame: &parleyv1.ChatResponse_Ack{Ack: ack}}
	case r.failure != nil:
		frame = &parleyv1.ChatResponse{Frame: &parleyv1.ChatResponse_Error{Error: c.s.chatError(c.ctx, r.failure.frameID, r.failure.err)}}
	default:
		frame = &parleyv1.ChatResponse{Frame: &parleyv1.ChatResponse_Heartbeat{Heartbeat: &parleyv1.Heartbeat{Time: timeToProto(r.heartbeat)}}}
	}
	return c.stream.Send(frame)
}

// chatFrames wraps room events as Chat frames.
var chatFrames = eventWrappers[*parleyv1.ChatResponse]{
	message: func(m *parleyv1.Message) *parleyv1.ChatResponse {
		return &parleyv1.ChatResponse{Frame: &parleyv1.ChatResponse_Message{Message: m}}
	},
	memberJoined: func(m *parleyv1.MemberJoined) *parleyv1.ChatResponse {
		return &parleyv1.ChatResponse{Frame: &parleyv1.ChatResponse_MemberJoined{MemberJoined: m}}
	},
	memberLeft: func(m *parleyv1.MemberLeft) *parleyv1.ChatResponse {
		return &parleyv1.ChatResponse{Frame: &parleyv1.ChatResponse_MemberLeft{MemberLeft: m}}
	},
	edited: func(m *parleyv1.MessageChanged) *parleyv1.ChatResponse {
		return &parleyv1.ChatResponse{Frame: &parleyv1.ChatResponse_MessageEdited{MessageEdited: m}}
	},
	deleted: func(m *parleyv1.MessageChanged) *parleyv1.ChatResponse {
		return &parleyv1.ChatResponse{Frame: &parleyv1.ChatResponse_MessageDeleted{MessageDeleted: m}}
	},
	typing: func(t *parleyv1.Typing) *parleyv1.ChatResponse {
		return &parleyv1.ChatResponse{Frame: &parleyv1.ChatResponse_Typing{Typing: t}}
	},
	readMarker: func(m *parleyv1.ReadMarker) *parleyv1.ChatResponse {
		return &parleyv1.ChatResponse{Frame: &parleyv1.ChatResponse_ReadMarker{ReadMarker: m}}
	},
}

// chatError turns err into a ChatError frame: the same code and message a
// unary call would get, with field violations and, for a rate limit or
// quota, the retry delay a unary call gets in google.rpc.RetryInfo.
func (s *Server) chatError(ctx context.Context, frameID string, err error) *parleyv1.ChatError {
	cerr := new(connect.Error)
	errors.As(s.connectError(ctx, err), &cerr)
	out := &parleyv1.ChatError{FrameId: frameID, Code: cerr.Code().String(), Message: cerr.Message()}
	var perr *parley.Error
	if errors.As(err, &perr) {
		for _, v := range perr.Violations {
			out.FieldViolations = append(out.FieldViolations, &parleyv1.FieldViolation{Field: v.Field, Description: v.Description})
		}
		if perr.RetryAfter > 0 {
			out.RetryDelay = durationpb.New(perr.RetryAfter)
		}
	}
	return out
}
