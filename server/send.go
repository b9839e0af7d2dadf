package server

import (
	"context"
	"strconv"

	"github.com/parley-chat/parley"
)

// The messages core: send-then-publish and history, in domain types.
// message_connect.go and chat_connect.go adapt it.

// outgoingMessage is what a client asks to send: a SendMessage call or a
// Chat send frame.
type outgoingMessage struct {
	roomID          string
	text            string
	clientMessageID string
	attachmentIDs   []string
}

// sendMessage validates, stores and publishes a message; prefix qualifies
// field names in violations ("send." in Chat).
func (s *Server) sendMessage(ctx context.Context, p *principal, m outgoingMessage, prefix string) (parley.Message, error) {
	v := validateID(prefix+"room_id", m.roomID)
	v = append(v, parley.ValidateMessageText(prefix+"text", m.text, len(m.attachmentIDs))...)
	v = append(v, parley.ValidateClientMessageID(prefix+"client_message_id", m.clientMessageID)...)
	if n := len(m.attachmentIDs); n > parley.MaxAttachments {
		v = append(v, parley.FieldViolation{Field: prefix + "attachment_ids", Description: "at most 10 attachments"})
	}
	if err := parley.Invalid(v); err != nil {
		return parley.Message{}, err
	}
	if err := s.quotas.send(p.user.ID); err != nil {
		return parley.Message{}, err
	}
	if _, err := s.memberRoom(ctx, m.roomID, p.user.ID); err != nil {
		return parley.Message{}, err
	}
	attachments, err := s.attachments(ctx, m.roomID, m.attachmentIDs, prefix+"attachment_ids")
	if err != nil {
		return parley.Message{}, err
	}
	return s.appendAndPublish(ctx, parley.NewMessage{
		RoomID:          m.roomID,
		SenderID:        p.user.ID,
		Sender:          p.user,
		Text:            m.text,
		ClientMessageID: m.clientMessageID,
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

// appendAndPublish stores a message and, if it is new, publishes it. The
// store calls publish in commit order (see parley.MessageStore), so no lock
// is held across the commit and concurrent sends to one room share a group
// commit.
func (s *Server) appendAndPublish(ctx context.Context, m parley.NewMessage) (parley.Message, error) {
	msg, _, err := s.store.AppendMessage(ctx, m, func(msg *parley.Message) {
		s.publish(ctx, &parley.Event{Kind: parley.EventMessage, RoomID: msg.RoomID, Seq: msg.Seq, Message: msg})
	})
	if err != nil {
		return parley.Message{}, err
	}
	return msg, nil
}

// listMessages reads a window of a room's history for a member (see
// parley.HistoryQuery) and the room's head seq.
func (s *Server) listMessages(ctx context.Context, p *principal, roomID string, q parley.HistoryQuery) ([]parley.Message, int64, error) {
	q, v := parley.ValidateHistoryQuery(q)
	v = append(validateID("room_id", roomID), v...)
	if err := parley.Invalid(v); err != nil {
		return nil, 0, err
	}
	if _, err := s.memberRoom(ctx, roomID, p.user.ID); err != nil {
		return nil, 0, err
	}
	return s.store.ListMessages(ctx, roomID, q)
}
