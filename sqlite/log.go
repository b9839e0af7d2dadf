package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/storesql"
)

// The room log (see parley.EventKind): room_events holds one row per logged
// event, numbered by rooms.head_seq in the transaction that makes the change.

// inWriteTx runs fill in a write transaction (BEGIN IMMEDIATE: it holds the
// write lock from the start) and commits it unless fill fails.
func (s *Store) inWriteTx(ctx context.Context, what string, fill func(*preparedTx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin %s: %w", what, err)
	}
	defer tx.Rollback()
	if err := fill(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit %s: %w", what, err)
	}
	return nil
}

// nextSeq bumps the room's head seq and returns it. ENOTFOUND if no room.
// The group committer forgets its copy of the head, in this transaction,
// before it can run its next batch.
func (s *Store) nextSeq(ctx context.Context, tx *preparedTx, roomID string) (int64, error) {
	s.heads.forget(roomID)
	var seq int64
	err := tx.QueryRowContext(ctx,
		`UPDATE rooms SET head_seq = head_seq + 1 WHERE id = ? RETURNING head_seq`, roomID).Scan(&seq)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, parley.Errorf(parley.ENOTFOUND, "room not found")
	case err != nil:
		return 0, fmt.Errorf("advance head seq: %w", err)
	}
	return seq, nil
}

// insertEvent stores one row of the log.
func insertEvent(ctx context.Context, tx *preparedTx, roomID string, seq int64, kind parley.EventKind, userID, actorID, messageID, text string, n int64) error {
	var mid any
	if messageID != "" {
		mid = messageID
	}
	_, err := tx.ExecContext(ctx, `
		INSERT INTO room_events (room_id, seq, kind, user_id, actor_id, message_id, text, create_time)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, roomID, seq, int(kind), userID, actorID, mid, text, n)
	switch {
	case isForeignKey(err):
		return parley.Errorf(parley.ENOTFOUND, "user not found")
	case err != nil:
		return fmt.Errorf("insert room event: %w", err)
	}
	return nil
}

// logMemberEvent stores a member change with the room's next seq and
// returns its event, to publish after commit.
func (s *Store) logMemberEvent(ctx context.Context, tx *preparedTx, roomID string, kind parley.EventKind, userID, actorID string, at time.Time, n int64) (*parley.Event, error) {
	user, err := userByID(ctx, tx, userID)
	if err != nil {
		return nil, err
	}
	actor, err := userByID(ctx, tx, actorID)
	if err != nil {
		return nil, err
	}
	seq, err := s.nextSeq(ctx, tx, roomID)
	if err != nil {
		return nil, err
	}
	if err := insertEvent(ctx, tx, roomID, seq, kind, userID, actorID, "", "", n); err != nil {
		return nil, err
	}
	return &parley.Event{Kind: kind, RoomID: roomID, Seq: seq, User: user, Actor: actor, Time: at}, nil
}

// MessageBySeq returns the message at seq in its latest form. ENOTFOUND if
// there is none.
func (s *Store) MessageBySeq(ctx context.Context, roomID string, seq int64) (parley.Message, error) {
	return messageBySeq(ctx, s.read, roomID, seq)
}

func messageBySeq(ctx context.Context, q querier, roomID string, seq int64) (parley.Message, error) {
	m, err := scanMessage(q.QueryRowContext(ctx, storesql.MessageSelect+` WHERE m.room_id = ? AND m.seq = ?`, roomID, seq))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return parley.Message{}, parley.Errorf(parley.ENOTFOUND, "message not found")
	case err != nil:
		return parley.Message{}, fmt.Errorf("select message: %w", err)
	}
	return m, nil
}

// EditMessage implements parley.MessageStore: one EventMessageEdited with
// the room's next seq, stamped with the Store's clock, and the message's
// new text, in one transaction.
func (s *Store) EditMessage(ctx context.Context, e parley.MessageEdit, publish func(*parley.Event)) (*parley.Event, bool, error) {
	at, n := s.stamp()
	var (
		ev      *parley.Event
		created bool
	)
	err := s.inWriteTx(ctx, "edit message", func(tx *preparedTx) error {
		msg, err := messageBySeq(ctx, tx, e.RoomID, e.Seq)
		switch {
		case err != nil:
			return err
		case msg.Deleted():
			return parley.Errorf(parley.EPRECONDITION, "message was deleted")
		case msg.Text == e.Text:
			ev = &parley.Event{Kind: parley.EventMessageEdited, RoomID: e.RoomID, Message: &msg, Time: msg.EditTime}
			return nil
		}
		editor, err := userByID(ctx, tx, e.EditorID)
		if err != nil {
			return err
		}
		seq, err := s.nextSeq(ctx, tx, e.RoomID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET text = ?, edit_time = ? WHERE id = ?`, e.Text, n, msg.ID); err != nil {
			return fmt.Errorf("update message: %w", err)
		}
		if err := insertEvent(ctx, tx, e.RoomID, seq, parley.EventMessageEdited, msg.Sender.ID, e.EditorID, msg.ID, e.Text, n); err != nil {
			return err
		}
		msg.Text, msg.EditTime = e.Text, at
		ev = &parley.Event{Kind: parley.EventMessageEdited, RoomID: e.RoomID, Seq: seq, Message: &msg, User: msg.Sender, Actor: editor, Time: at}
		created = true
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if created && publish != nil {
		publish(ev)
	}
	return ev, created, nil
}

// DeleteMessage implements parley.MessageStore: one EventMessageDeleted
// with the room's next seq, stamped with the Store's clock; the message's
// text and attachments, and the text of its edit events, are overwritten
// in the same transaction.
func (s *Store) DeleteMessage(ctx context.Context, roomID string, seq int64, actorID string, publish func(*parley.Event)) (*parley.Event, bool, error) {
	at, n := s.stamp()
	var (
		ev      *parley.Event
		created bool
	)
	err := s.inWriteTx(ctx, "delete message", func(tx *preparedTx) error {
		msg, err := messageBySeq(ctx, tx, roomID, seq)
		switch {
		case err != nil:
			return err
		case msg.Deleted():
			ev = &parley.Event{Kind: parley.EventMessageDeleted, RoomID: roomID, Message: &msg, Time: msg.DeleteTime}
			return nil
		}
		actor, err := userByID(ctx, tx, actorID)
		if err != nil {
			return err
		}
		next, err := s.nextSeq(ctx, tx, roomID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET text = '', attachments = '', delete_time = ? WHERE id = ?`, n, msg.ID); err != nil {
			return fmt.Errorf("tombstone message: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE room_events SET text = '' WHERE room_id = ? AND message_id = ?`, roomID, msg.ID); err != nil {
			return fmt.Errorf("tombstone edits: %w", err)
		}
		if err := insertEvent(ctx, tx, roomID, next, parley.EventMessageDeleted, msg.Sender.ID, actorID, msg.ID, "", n); err != nil {
			return err
		}
		msg.Text, msg.Attachments, msg.DeleteTime = "", nil, at
		ev = &parley.Event{Kind: parley.EventMessageDeleted, RoomID: roomID, Seq: next, Message: &msg, User: msg.Sender, Actor: actor, Time: at}
		created = true
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if created && publish != nil {
		publish(ev)
	}
	return ev, created, nil
}

// ListEvents implements parley.MessageStore.
func (s *Store) ListEvents(ctx context.Context, roomID string, after int64, limit int) ([]*parley.Event, int64, error) {
	if limit <= 0 {
		limit = parley.DefaultHistoryLimit
	}
	tx, err := s.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("begin list events: %w", err)
	}
	defer tx.Rollback()
	var head int64
	err = tx.QueryRowContext(ctx, `SELECT head_seq FROM rooms WHERE id = ?`, roomID).Scan(&head)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, 0, parley.Errorf(parley.ENOTFOUND, "room not found")
	case err != nil:
		return nil, 0, fmt.Errorf("select head seq: %w", err)
	}
	rows, err := tx.QueryContext(ctx, storesql.EventSelect+` WHERE e.room_id = ? AND e.seq > ? ORDER BY e.seq LIMIT ?`, roomID, after, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("select events: %w", err)
	}
	defer rows.Close()
	type row struct {
		ev      *parley.Event
		text    string
		message int64
	}
	var got []row
	for rows.Next() {
		var (
			r                row
			kind             int
			n, userNs, actNs int64
		)
		r.ev = &parley.Event{}
		if err := rows.Scan(&r.ev.Seq, &kind, &r.text, &n, &r.ev.User.ID, &r.ev.User.Username, &userNs,
			&r.ev.Actor.ID, &r.ev.Actor.Username, &actNs, &r.message); err != nil {
			return nil, 0, fmt.Errorf("scan event: %w", err)
		}
		r.ev.Kind, r.ev.RoomID, r.ev.Time = parley.EventKind(kind), roomID, fromNanos(n)
		r.ev.User.CreateTime, r.ev.Actor.CreateTime = fromNanos(userNs), fromNanos(actNs)
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("select events: %w", err)
	}
	rows.Close()
	events := make([]*parley.Event, len(got))
	for i, r := range got {
		if r.ev.Kind.IsMessage() {
			m, err := messageBySeq(ctx, tx, roomID, r.message)
			if err != nil {
				return nil, 0, err
			}
			if r.ev.Kind == parley.EventMessageEdited && !m.Deleted() {
				m.Text, m.EditTime = r.text, r.ev.Time
			}
			r.ev.Message = &m
		}
		events[i] = r.ev
	}
	return events, head, nil
}

// MarkRead implements parley.RoomStore.
func (s *Store) MarkRead(ctx context.Context, roomID, userID string, seq int64) (int64, error) {
	var marker int64
	err := s.inWriteTx(ctx, "mark read", func(tx *preparedTx) error {
		if err := roomExists(ctx, tx, roomID); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, `
			INSERT INTO read_markers (room_id, user_id, read_seq) VALUES (?, ?, ?)
			ON CONFLICT (room_id, user_id) DO UPDATE SET read_seq = max(read_seq, excluded.read_seq)
			RETURNING read_seq`, roomID, userID, seq).Scan(&marker)
		switch {
		case isForeignKey(err):
			return parley.Errorf(parley.ENOTFOUND, "user not found")
		case err != nil:
			return fmt.Errorf("upsert read marker: %w", err)
		}
		return nil
	})
	return marker, err
}

// ReadStates implements parley.RoomStore.
func (s *Store) ReadStates(ctx context.Context, userID string, roomIDs []string) (map[string]parley.ReadState, error) {
	states := make(map[string]parley.ReadState, len(roomIDs))
	for _, id := range roomIDs {
		var st parley.ReadState
		err := s.read.QueryRowContext(ctx, `
			SELECT coalesce((SELECT read_seq FROM read_markers WHERE room_id = r.id AND user_id = ?), 0),
			       CASE WHEN EXISTS (SELECT 1 FROM members WHERE room_id = r.id AND user_id = ?) THEN
			       (SELECT count(*) FROM messages m WHERE m.room_id = r.id AND m.sender_id <> ? AND m.delete_time = 0
			          AND m.seq > coalesce((SELECT read_seq FROM read_markers WHERE room_id = r.id AND user_id = ?), 0))
			       ELSE 0 END
			FROM rooms r WHERE r.id = ?`, userID, userID, userID, userID, id).Scan(&st.ReadSeq, &st.Unread)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			continue
		case err != nil:
			return nil, fmt.Errorf("select read state: %w", err)
		}
		states[id] = st
	}
	return states, nil
}
