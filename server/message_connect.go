package server

import (
	"context"

	"connectrpc.com/connect"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
)

// messageHandler serves parley.v1.MessageService over Connect, gRPC and
// gRPC-Web on the messages core (send.go). Subscribe is served by
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
	msg, err := h.s.sendMessage(ctx, p, outgoingFromProto(req.Msg), "")
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&parleyv1.SendMessageResponse{Message: messageToProto(&msg)}), nil
}

func (h *messageHandler) ListMessages(ctx context.Context, req *connect.Request[parleyv1.ListMessagesRequest]) (*connect.Response[parleyv1.ListMessagesResponse], error) {
	p, err := principalFrom(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	q := parley.HistoryQuery{Forward: m.AfterSeq != nil, AfterSeq: m.GetAfterSeq(), BeforeSeq: m.GetBeforeSeq(), Limit: int(m.GetLimit())}
	msgs, head, err := h.s.listMessages(ctx, p, m.GetRoomId(), q)
	if err != nil {
		return nil, err
	}
	res := &parleyv1.ListMessagesResponse{HeadSeq: head}
	for i := range msgs {
		res.Messages = append(res.Messages, messageToProto(&msgs[i]))
	}
	return connect.NewResponse(res), nil
}

func (h *messageHandler) EditMessage(ctx context.Context, req *connect.Request[parleyv1.EditMessageRequest]) (*connect.Response[parleyv1.EditMessageResponse], error) {
	p, err := principalFrom(ctx)
	if err != nil {
		return nil, err
	}
	msg, err := h.s.editMessage(ctx, p, req.Msg.GetRoomId(), req.Msg.GetSeq(), req.Msg.GetText())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&parleyv1.EditMessageResponse{Message: messageToProto(&msg)}), nil
}

func (h *messageHandler) DeleteMessage(ctx context.Context, req *connect.Request[parleyv1.DeleteMessageRequest]) (*connect.Response[parleyv1.DeleteMessageResponse], error) {
	p, err := principalFrom(ctx)
	if err != nil {
		return nil, err
	}
	msg, err := h.s.deleteMessage(ctx, p, req.Msg.GetRoomId(), req.Msg.GetSeq())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&parleyv1.DeleteMessageResponse{Message: messageToProto(&msg)}), nil
}

func (h *messageHandler) MarkRead(ctx context.Context, req *connect.Request[parleyv1.MarkReadRequest]) (*connect.Response[parleyv1.MarkReadResponse], error) {
	p, err := principalFrom(ctx)
	if err != nil {
		return nil, err
	}
	marker, err := h.s.markRead(ctx, p, req.Msg.GetRoomId(), req.Msg.GetSeq())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&parleyv1.MarkReadResponse{ReadSeq: marker}), nil
}

func outgoingFromProto(m *parleyv1.SendMessageRequest) outgoingMessage {
	return outgoingMessage{roomID: m.GetRoomId(), text: m.GetText(), clientMessageID: m.GetClientMessageId(), attachmentIDs: m.GetAttachmentIds()}
}

func (h *messageHandler) CreateStreamTicket(ctx context.Context, req *connect.Request[parleyv1.CreateStreamTicketRequest]) (*connect.Response[parleyv1.CreateStreamTicketResponse], error) {
	p, err := principalFrom(ctx)
	if err != nil {
		return nil, err
	}
	ticket, expires, err := h.s.createStreamTicket(ctx, p, req.Msg.GetRoomId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&parleyv1.CreateStreamTicketResponse{Ticket: ticket, ExpireTime: timeToProto(expires)}), nil
}
