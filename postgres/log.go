package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/storesql"
)

// The room log (see parley.EventKind): room_events holds one row per logged
// event, numbered by rooms.head_seq in the transaction that makes the
// change. Every such transaction notifies NotifyChannel with "ROOM_ID:SEQ",
// so Broker carries every kind across replicas the way it carries messages.
// A process's writes to one room take turns under s.rooms, so they publish
// in seq order.

// nextSeq bumps the room's head seq (row-locking the room until commit) and
// returns it. ENOTFOUND if no room.
func nextSeq(ctx context.Context, tx pgx.Tx, roomID string) (int64, error) {
	var seq int64
	err := tx.QueryRow(ctx,
		`UPDATE rooms SET head_seq = head_seq + 1 WHERE id = $1 RETURNING head_seq`, roomID).Scan(&seq)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, parley.Errorf(parley.ENOTFOUND, "room not found")
	case err != nil:
		return 0, wrap("advance head seq", err)
	}
	return seq, nil
}

// insertEvent stores one row of the log and notifies it.
func insertEvent(ctx context.Context, tx pgx.Tx, roomID string, seq int64, kind parley.EventKind, userID, actorID, messageID, text string, at time.Time) error {
	var mid any
	if messageID != "" {
		mid = messageID
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO room_events (room_id, seq, kind, user_id, actor_id, message_id, text, create_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, roomID, seq, int(kind), userID, actorID, mid, text, at)
	switch {
	case isForeignKey(err):
		return parley.Errorf(parley.ENOTFOUND, "user not found")
	case err != nil:
		return wrap("insert room event", err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, NotifyChannel, notifyPayload(roomID, seq)); err != nil {
		return wrap("notify", err)
	}
	return nil
}

// logMemberEvent stores a member change at seq (from nextSeq), notifies it
// and returns its event, to publish after commit.
func logMemberEvent(ctx context.Context, tx pgx.Tx, roomID string, seq int64, kind parley.EventKind, userID, actorID string, at time.Time) (*parley.Event, error) {
	user, err := userByID(ctx, tx, userID)
	if err != nil {
		return nil, err
	}
	actor, err := userByID(ctx, tx, actorID)
	if err != nil {
		return nil, err
	}
	if err := insertEvent(ctx, tx, roomID, seq, kind, userID, actorID, "", "", at); err != nil {
		return nil, err
	}
	return &parley.Event{Kind: kind, RoomID: roomID, Seq: seq, User: user, Actor: actor, Time: at}, nil
}

// MessageBySeq returns the message at seq in its latest form. ENOTFOUND if
// there is none.
func (s *Store) MessageBySeq(ctx context.Context, roomID string, seq int64) (parley.Message, error) {
	return messageBySeq(ctx, s.pool, roomID, seq)
}

func messageBySeq(ctx context.Context, q querier, roomID string, seq int64) (parley.Message, error) {
	m, err := scanMessage(q.QueryRow(ctx, storesql.MessageSelect+` WHERE m.room_id = $1 AND m.seq = $2`, roomID, seq))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return parley.Message{}, parley.Errorf(parley.ENOTFOUND, "message not found")
	case err != nil:
		return parley.Message{}, wrap("select message", err)
	}
	return m, nil
}

// EditMessage implements parley.MessageStore: one EventMessageEdited with
// the room's next seq, stamped with the Store's clock, and the message's
// new text, in one transaction.
func (s *Store) EditMessage(ctx context.Context, e parley.MessageEdit, publish func(*parley.Event)) (*parley.Event, bool, error) {
	unlock := s.rooms.Lock(e.RoomID)
	defer unlock()
	var (
		ev      *parley.Event
		created bool
	)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		seq, err := nextSeq(ctx, tx, e.RoomID) // locks the room first, so the check below holds
		if err != nil {
			return err
		}
		msg, err := messageBySeq(ctx, tx, e.RoomID, e.Seq)
		switch {
		case err != nil:
			return err
		case msg.Deleted():
			return parley.Errorf(parley.EPRECONDITION, "message was deleted")
		case msg.Text == e.Text:
			ev = &parley.Event{Kind: parley.EventMessageEdited, RoomID: e.RoomID, Message: &msg, Time: msg.EditTime}
			return errUnchanged
		}
		editor, err := userByID(ctx, tx, e.EditorID)
		if err != nil {
			return err
		}
		at := s.stamp()
		if _, err := tx.Exec(ctx, `UPDATE messages SET text = $1, edit_time = $2 WHERE id = $3`, e.Text, at, msg.ID); err != nil {
			return wrap("update message", err)
		}
		if err := insertEvent(ctx, tx, e.RoomID, seq, parley.EventMessageEdited, msg.Sender.ID, e.EditorID, msg.ID, e.Text, at); err != nil {
			return err
		}
		msg.Text, msg.EditTime = e.Text, at
		ev = &parley.Event{Kind: parley.EventMessageEdited, RoomID: e.RoomID, Seq: seq, Message: &msg, User: msg.Sender, Actor: editor, Time: at}
		created = true
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return ev, false, nil
	}
	if err != nil {
		return nil, false, txErr("edit message", err)
	}
	if publish != nil {
		publish(ev)
	}
	return ev, created, nil
}

// errUnchanged rolls back a transaction that found nothing to change (the
// head seq bump included).
var errUnchanged = errors.New("unchanged")

// DeleteMessage implements parley.MessageStore: one EventMessageDeleted
// with the room's next seq, stamped with the Store's clock; the message's
// text and attachments, and the text of its edit events, are overwritten
// in the same transaction.
func (s *Store) DeleteMessage(ctx context.Context, roomID string, seq int64, actorID string, publish func(*parley.Event)) (*parley.Event, bool, error) {
	unlock := s.rooms.Lock(roomID)
	defer unlock()
	var ev *parley.Event
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		next, err := nextSeq(ctx, tx, roomID)
		if err != nil {
			return err
		}
		msg, err := messageBySeq(ctx, tx, roomID, seq)
		switch {
		case err != nil:
			return err
		case msg.Deleted():
			ev = &parley.Event{Kind: parley.EventMessageDeleted, RoomID: roomID, Message: &msg, Time: msg.DeleteTime}
			return errUnchanged
		}
		actor, err := userByID(ctx, tx, actorID)
		if err != nil {
			return err
		}
		at := s.stamp()
		if _, err := tx.Exec(ctx, `UPDATE messages SET text = '', attachments = NULL, delete_time = $1 WHERE id = $2`, at, msg.ID); err != nil {
			return wrap("tombstone message", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE room_events SET text = '' WHERE room_id = $1 AND message_id = $2`, roomID, msg.ID); err != nil {
			return wrap("tombstone edits", err)
		}
		if err := insertEvent(ctx, tx, roomID, next, parley.EventMessageDeleted, msg.Sender.ID, actorID, msg.ID, "", at); err != nil {
			return err
		}
		msg.Text, msg.Attachments, msg.DeleteTime = "", nil, at
		ev = &parley.Event{Kind: parley.EventMessageDeleted, RoomID: roomID, Seq: next, Message: &msg, User: msg.Sender, Actor: actor, Time: at}
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return ev, false, nil
	}
	if err != nil {
		return nil, false, txErr("delete message", err)
	}
	if publish != nil {
		publish(ev)
	}
	return ev, true, nil
}

// headSeq returns the seq of the room's latest logged event, 0 if none.
// ENOTFOUND if there is no such room.
func headSeq(ctx context.Context, q querier, roomID string) (int64, error) {
	var head int64
	err := q.QueryRow(ctx, `SELECT head_seq FROM rooms WHERE id = $1`, roomID).Scan(&head)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, parley.Errorf(parley.ENOTFOUND, "room not found")
	case err != nil:
		return 0, wrap("select head seq", err)
	}
	return head, nil
}

// ListEvents implements parley.MessageStore.
func (s *Store) ListEvents(ctx context.Context, roomID string, after int64, limit int) ([]*parley.Event, int64, error) {
	if limit <= 0 {
		limit = parley.DefaultHistoryLimit
	}
	var (
		events []*parley.Event
		head   int64
	)
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if head, err = headSeq(ctx, tx, roomID); err != nil {
			return err
		}
		events, err = eventsAfter(ctx, tx, roomID, after, limit)
		return err
	})
	if err != nil {
		return nil, 0, txErr("list events", err)
	}
	return events, head, nil
}

// eventsAfter reads up to limit logged events of a room after seq, with
// the messages they are about in their latest form.
func eventsAfter(ctx context.Context, tx pgx.Tx, roomID string, after int64, limit int) ([]*parley.Event, error) {
	rows, err := tx.Query(ctx, storesql.EventSelect+` WHERE e.room_id = $1 AND e.seq > $2 ORDER BY e.seq LIMIT $3`, roomID, after, limit)
	if err != nil {
		return nil, wrap("select events", err)
	}
	type row struct {
		ev      *parley.Event
		text    string
		message int64
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var (
			x    row
			kind int
		)
		x.ev = &parley.Event{}
		err := r.Scan(&x.ev.Seq, &kind, &x.text, &x.ev.Time, &x.ev.User.ID, &x.ev.User.Username, &x.ev.User.CreateTime,
			&x.ev.Actor.ID, &x.ev.Actor.Username, &x.ev.Actor.CreateTime, &x.message)
		x.ev.Kind, x.ev.RoomID = parley.EventKind(kind), roomID
		x.ev.Time, x.ev.User.CreateTime, x.ev.Actor.CreateTime = x.ev.Time.UTC(), x.ev.User.CreateTime.UTC(), x.ev.Actor.CreateTime.UTC()
		return x, err
	})
	if err != nil {
		return nil, wrap("select events", err)
	}
	events := make([]*parley.Event, len(got))
	for i, r := range got {
		if r.ev.Kind.IsMessage() {
			m, err := messageBySeq(ctx, tx, roomID, r.message)
			if err != nil {
				return nil, err
			}
			if r.ev.Kind == parley.EventMessageEdited && !m.Deleted() {
				m.Text, m.EditTime = r.text, r.ev.Time
			}
			r.ev.Message = &m
		}
		events[i] = r.ev
	}
	return events, nil
}

// MarkRead implements parley.RoomStore.
func (s *Store) MarkRead(ctx context.Context, roomID, userID string, seq int64) (int64, error) {
	var marker int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := roomExists(ctx, tx, roomID); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `
			INSERT INTO read_markers (room_id, user_id, read_seq) VALUES ($1, $2, $3)
			ON CONFLICT (room_id, user_id) DO UPDATE SET read_seq = greatest(read_markers.read_seq, excluded.read_seq)
			RETURNING read_seq`, roomID, userID, seq).Scan(&marker)
		switch {
		case isForeignKey(err):
			return parley.Errorf(parley.ENOTFOUND, "user not found")
		case err != nil:
			return wrap("upsert read marker", err)
		}
		return notifyReadMarker(ctx, tx, roomID, userID, marker, s.stamp())
	})
	if err != nil {
		return 0, txErr("mark read", err)
	}
	return marker, nil
}

// ReadStates implements parley.RoomStore.
func (s *Store) ReadStates(ctx context.Context, userID string, roomIDs []string) (map[string]parley.ReadState, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT r.id, coalesce(k.read_seq, 0),
		       CASE WHEN EXISTS (SELECT 1 FROM members WHERE room_id = r.id AND user_id = $1) THEN
		       (SELECT count(*) FROM messages m WHERE m.room_id = r.id AND m.sender_id <> $1
		          AND m.delete_time IS NULL AND m.seq > coalesce(k.read_seq, 0))
		       ELSE 0 END
		FROM rooms r LEFT JOIN read_markers k ON k.room_id = r.id AND k.user_id = $1
		WHERE r.id = ANY($2)`, userID, roomIDs)
	if err != nil {
		return nil, wrap("select read states", err)
	}
	states := make(map[string]parley.ReadState, len(roomIDs))
	var (
		id string
		st parley.ReadState
	)
	if _, err := pgx.ForEachRow(rows, []any{&id, &st.ReadSeq, &st.Unread}, func() error {
		states[id] = st
		return nil
	}); err != nil {
		return nil, wrap("select read states", err)
	}
	return states, nil
}
