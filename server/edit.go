package server

import (
	"context"

	"github.com/parley-chat/parley"
)

// The message-changes core: edit, delete and read markers, in domain types.
// message_connect.go adapts it. Each change is one event of the room log
// (see parley.EventKind), published by the store after commit.

// validateMessageRef checks a (room_id, seq) pair naming a message.
func validateMessageRef(roomID string, seq int64) []parley.FieldViolation {
	v := validateID("room_id", roomID)
	if seq <= 0 {
		v = append(v, parley.FieldViolation{Field: "seq", Description: "must be positive"})
	}
	return v
}

// editMessage replaces the text of the caller's own message, within the
// edit window (WithEditWindow). A retry with the same text stores nothing.
func (s *Server) editMessage(ctx context.Context, p *principal, roomID string, seq int64, text string) (parley.Message, error) {
	v := append(validateMessageRef(roomID, seq), parley.ValidateMessageText("text", text, 0)...)
	if err := parley.Invalid(v); err != nil {
		return parley.Message{}, err
	}
	if _, err := s.memberRoom(ctx, roomID, p.user.ID); err != nil {
		return parley.Message{}, err
	}
	msg, err := s.store.MessageBySeq(ctx, roomID, seq)
	switch {
	case err != nil:
		return parley.Message{}, err
	case msg.Sender.ID != p.user.ID:
		return parley.Message{}, parley.Errorf(parley.EFORBIDDEN, "only the sender may edit a message")
	case msg.Deleted():
		return parley.Message{}, parley.Errorf(parley.EPRECONDITION, "the message was deleted")
	case msg.Text == text:
		return msg, nil // a retry
	case s.now().Sub(msg.CreateTime) > s.cfg.editWindow:
		return parley.Message{}, parley.Errorf(parley.EPRECONDITION, "the edit window (%s) has passed", s.cfg.editWindow)
	}
	ev, _, err := s.store.EditMessage(ctx, parley.MessageEdit{RoomID: roomID, Seq: seq, EditorID: p.user.ID, Text: text}, s.publisher(ctx))
	if err != nil {
		return parley.Message{}, err
	}
	return *ev.Message, nil
}

// deleteMessage deletes a message of the caller's, or any message of a room
// the caller created. Deleting a deleted message stores nothing.
func (s *Server) deleteMessage(ctx context.Context, p *principal, roomID string, seq int64) (parley.Message, error) {
	if err := parley.Invalid(validateMessageRef(roomID, seq)); err != nil {
		return parley.Message{}, err
	}
	room, err := s.memberRoom(ctx, roomID, p.user.ID)
	if err != nil {
		return parley.Message{}, err
	}
	msg, err := s.store.MessageBySeq(ctx, roomID, seq)
	switch {
	case err != nil:
		return parley.Message{}, err
	case msg.Sender.ID != p.user.ID && room.CreatorID != p.user.ID:
		return parley.Message{}, parley.Errorf(parley.EFORBIDDEN, "only the sender or the room's creator may delete a message")
	case msg.Deleted():
		return msg, nil // a retry
	}
	ev, _, err := s.store.DeleteMessage(ctx, roomID, seq, p.user.ID, s.publisher(ctx))
	if err != nil {
		return parley.Message{}, err
	}
	return *ev.Message, nil
}

// markRead moves the caller's read marker forward and tells the caller's
// other streams on the room (a private EventReadMarker; feed.go delivers
// it only to streams of the same user).
func (s *Server) markRead(ctx context.Context, p *principal, roomID string, seq int64) (int64, error) {
	v := validateID("room_id", roomID)
	if seq < 0 {
		v = append(v, parley.FieldViolation{Field: "seq", Description: "must not be negative"})
	}
	if err := parley.Invalid(v); err != nil {
		return 0, err
	}
	if _, err := s.memberRoom(ctx, roomID, p.user.ID); err != nil {
		return 0, err
	}
	marker, err := s.store.MarkRead(ctx, roomID, p.user.ID, seq)
	if err != nil {
		return 0, err
	}
	s.publish(ctx, &parley.Event{Kind: parley.EventReadMarker, RoomID: roomID, User: p.user, ReadSeq: marker, Time: s.now()})
	return marker, nil
}

// withReadStates fills the caller's read marker and unread count into rooms.
func (s *Server) withReadStates(ctx context.Context, p *principal, rooms []parley.Room) error {
	if len(rooms) == 0 {
		return nil
	}
	ids := make([]string, len(rooms))
	for i, r := range rooms {
		ids[i] = r.ID
	}
	states, err := s.store.ReadStates(ctx, p.user.ID, ids)
	if err != nil {
		return err
	}
	for i := range rooms {
		st := states[rooms[i].ID]
		rooms[i].ReadSeq, rooms[i].Unread = st.ReadSeq, st.Unread
	}
	return nil
}
