package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
)

// sendTries is how often SendMessage tries a message whose sends failed
// with EUNAVAILABLE; the client message id makes the retries safe.
const sendTries = 4

// SendOption configures one SendMessage call.
type SendOption interface {
	applySend(*parleyv1.SendMessageRequest)
}

type sendOptionFunc func(*parleyv1.SendMessageRequest)

func (f sendOptionFunc) applySend(r *parleyv1.SendMessageRequest) { f(r) }

// WithClientMessageID sets the idempotency key of a message: sending again
// with the same key returns the message first stored. By default, a random
// key per SendMessage call.
func WithClientMessageID(id string) SendOption {
	return sendOptionFunc(func(r *parleyv1.SendMessageRequest) { r.ClientMessageId = id })
}

// WithAttachments attaches files uploaded to the same room (at most
// parley.MaxAttachments). By default, none.
func WithAttachments(fileIDs ...string) SendOption {
	return sendOptionFunc(func(r *parleyv1.SendMessageRequest) { r.AttachmentIds = append(r.AttachmentIds, fileIDs...) })
}

// NewClientMessageID returns a random client message id.
func NewClientMessageID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails (Go >= 1.24)
	return "c_" + hex.EncodeToString(b)
}

// newSendRequest is the request to send text to a room with opts; without
// WithClientMessageID, under a new random id.
func newSendRequest(roomID, text string, opts []SendOption) *parleyv1.SendMessageRequest {
	req := &parleyv1.SendMessageRequest{RoomId: roomID, Text: text}
	for _, o := range opts {
		o.applySend(req)
	}
	if req.ClientMessageId == "" {
		req.ClientMessageId = NewClientMessageID()
	}
	return req
}

// SendMessage posts a message to a room the caller is a member of and
// returns it as stored, with its seq. A send that fails with EUNAVAILABLE
// (the server restarting, a broken connection) is retried with backoff
// under the same client message id, so it is stored at most once.
// Errors: EINVALID, ENOTFOUND, EFORBIDDEN.
func (c *Client) SendMessage(ctx context.Context, roomID, text string, opts ...SendOption) (parley.Message, error) {
	req := newSendRequest(roomID, text, opts)
	b := c.newBackoff()
	for try := 1; ; try++ {
		msg, err := c.sendOnce(ctx, req)
		if err == nil || try == sendTries || parley.ErrorCodeOf(err) != parley.EUNAVAILABLE {
			return msg, err
		}
		if err := b.wait(ctx); err != nil {
			return parley.Message{}, err
		}
	}
}

func (c *Client) sendOnce(ctx context.Context, req *parleyv1.SendMessageRequest) (parley.Message, error) {
	res, err := unary(ctx, c, c.messages.SendMessage, req)
	if err != nil {
		return parley.Message{}, err
	}
	return messageFromProto(res.GetMessage()), nil
}

// ListMessages reads a window of a room's history, ascending by seq (see
// parley.HistoryQuery), and returns the room's head seq.
// Errors: EINVALID, ENOTFOUND, EFORBIDDEN.
func (c *Client) ListMessages(ctx context.Context, roomID string, q parley.HistoryQuery) ([]parley.Message, int64, error) {
	req := &parleyv1.ListMessagesRequest{RoomId: roomID, BeforeSeq: q.BeforeSeq, Limit: int32(min(max(q.Limit, 0), parley.MaxHistoryLimit))}
	if q.IsForward() {
		req.AfterSeq = &q.AfterSeq
	}
	res, err := unary(ctx, c, c.messages.ListMessages, req)
	if err != nil {
		return nil, 0, err
	}
	msgs := make([]parley.Message, 0, len(res.GetMessages()))
	for _, m := range res.GetMessages() {
		msgs = append(msgs, messageFromProto(m))
	}
	return msgs, res.GetHeadSeq(), nil
}

// EditMessage replaces the text of the caller's message at seq (within the
// server's edit window) and returns it as edited. Retrying with the same
// text stores nothing new.
// Errors: EINVALID, ENOTFOUND, EFORBIDDEN (not the sender), EPRECONDITION
// (past the edit window, or deleted).
func (c *Client) EditMessage(ctx context.Context, roomID string, seq int64, text string) (parley.Message, error) {
	res, err := unary(ctx, c, c.messages.EditMessage, &parleyv1.EditMessageRequest{RoomId: roomID, Seq: seq, Text: text})
	if err != nil {
		return parley.Message{}, err
	}
	return messageFromProto(res.GetMessage()), nil
}

// DeleteMessage deletes the message at seq (the caller's, or any in a room
// the caller created) and returns its tombstone. Deleting again stores
// nothing new.
// Errors: EINVALID, ENOTFOUND, EFORBIDDEN.
func (c *Client) DeleteMessage(ctx context.Context, roomID string, seq int64) (parley.Message, error) {
	res, err := unary(ctx, c, c.messages.DeleteMessage, &parleyv1.DeleteMessageRequest{RoomId: roomID, Seq: seq})
	if err != nil {
		return parley.Message{}, err
	}
	return messageFromProto(res.GetMessage()), nil
}

// MarkRead moves the caller's read marker in a room forward to seq and
// returns the marker as it is after (a lower seq changes nothing).
// Errors: EINVALID, ENOTFOUND, EFORBIDDEN.
func (c *Client) MarkRead(ctx context.Context, roomID string, seq int64) (int64, error) {
	res, err := unary(ctx, c, c.messages.MarkRead, &parleyv1.MarkReadRequest{RoomId: roomID, Seq: seq})
	if err != nil {
		return 0, err
	}
	return res.GetReadSeq(), nil
}
