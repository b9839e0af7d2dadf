package server

import (
	"context"
	"strconv"

	"connectrpc.com/connect"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
)

// messageHandler serves parley.v1.MessageService. Subscribe is served by
// Server.subscribe (see routes.go), so the embedded Unimplemented handler's
// Subscribe is never reached.
type messageHandler struct {
	s *Server
	parleyv1connect.UnimplementedMessageServiceHandler
}

var _ parleyv1connect.MessageServiceHandler = (*messageHandler)(nil)

func (h *messageHandler) SendMessage(ctx context.Context, req *connect.Request[parleyv1.SendMessageRequest]) (*connect.Response[parleyv1.SendMessageResponse], error) {
	p, err := principalFrom(ctx)
	if err != nil {
		return nil, err
	}
	msg, err := h.s.sendMessage(ctx, p, req.Msg, "")
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&parleyv1.SendMessageResponse{Message: messageToProto(&msg)}), nil
}

// sendMessage validates, stores and publishes a message for SendMessage
// and Chat; prefix qualifies field names in violations ("send." in Chat).
func (s *Server) sendMessage(ctx context.Context, p *principal, m *parleyv1.SendMessageRequest, prefix string) (parley.Message, error) {
	v := validateID(prefix+"room_id", m.GetRoomId())
	v = append(v, parley.ValidateMessageText(prefix+"text", m.GetText(), len(m.GetAttachmentIds()))...)
	v = append(v, parley.ValidateClientMessageID(prefix+"client_message_id", m.GetClientMessageId())...)
	if n := len(m.GetAttachmentIds()); n > parley.MaxAttachments {
		v = append(v, parley.FieldViolation{Field: prefix + "attachment_ids", Description: "at most 10 attachments"})
	}
	if err := parley.Invalid(v); err != nil {
		return parley.Message{}, err
	}
	if _, err := s.memberRoom(ctx, m.GetRoomId(), p.user.ID); err != nil {
		return parley.Message{}, err
	}
	attachments, err := s.attachments(ctx, m.GetRoomId(), m.GetAttachmentIds(), prefix+"attachment_ids")
	if err != nil {
		return parley.Message{}, err
	}
	return s.appendAndPublish(ctx, parley.NewMessage{
		RoomID:          m.GetRoomId(),
		SenderID:        p.user.ID,
		Text:            m.GetText(),
		ClientMessageID: m.GetClientMessageId(),
		Attachments:     attachments,
	})
}

// attachments resolves file ids to files of the room.
func (s *Server) attachments(ctx context.Context, roomID string, ids []string, field string) ([]parley.File, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if s.cfg.files == nil {
		return nil, errNoFiles
	}
	files := make([]parley.File, 0, len(ids))
	for _, id := range ids {
		f, err := s.cfg.files.FileByID(ctx, id)
		if parley.ErrorCodeOf(err) == parley.ENOTFOUND || err == nil && f.RoomID != roomID {
			return nil, parley.Invalid([]parley.FieldViolation{{Field: field, Description: "no uploaded file " + strconv.Quote(id) + " in this room"}})
		} else if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

func (h *messageHandler) ListMessages(ctx context.Context, req *connect.Request[parleyv1.ListMessagesRequest]) (*connect.Response[parleyv1.ListMessagesResponse], error) {
	p, err := principalFrom(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	q, v := parley.ValidateHistoryQuery(parley.HistoryQuery{Forward: m.AfterSeq != nil, AfterSeq: m.GetAfterSeq(), BeforeSeq: m.GetBeforeSeq(), Limit: int(m.GetLimit())})
	v = append(validateID("room_id", m.GetRoomId()), v...)
	if err := parley.Invalid(v); err != nil {
		return nil, err
	}
	if _, err := h.s.memberRoom(ctx, m.GetRoomId(), p.user.ID); err != nil {
		return nil, err
	}
	msgs, head, err := h.s.store.ListMessages(ctx, m.GetRoomId(), q)
	if err != nil {
		return nil, err
	}
	res := &parleyv1.ListMessagesResponse{HeadSeq: head}
	for i := range msgs {
		res.Messages = append(res.Messages, messageToProto(&msgs[i]))
	}
	return connect.NewResponse(res), nil
}

// appendAndPublish stores a message and, if it is new, publishes it. The
// store calls publish in commit order (see parley.MessageStore), so no lock
// is held across the commit and concurrent sends to one room share a group
// commit.
func (s *Server) appendAndPublish(ctx context.Context, m parley.NewMessage) (parley.Message, error) {
	msg, _, err := s.store.AppendMessage(ctx, m, func(msg *parley.Message) {
		s.broker.Publish(&parley.Event{Kind: parley.EventMessage, RoomID: msg.RoomID, Message: msg})
	})
	if err != nil {
		return parley.Message{}, err
	}
	return msg, nil
}
