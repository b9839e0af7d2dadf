package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/storesql"
)

func scanMessage(row interface{ Scan(...any) error }) (parley.Message, error) {
	var (
		m                                 parley.Message
		created, edited, deleted, userNow int64
		attachments                       string
	)
	err := row.Scan(&m.ID, &m.RoomID, &m.Seq, &m.Text, &m.ClientMessageID, &created,
		&attachments, &edited, &deleted, &m.Sender.ID, &m.Sender.Username, &userNow)
	if err != nil {
		return parley.Message{}, err
	}
	if m.Attachments, err = decodeAttachments(m.RoomID, attachments); err != nil {
		return parley.Message{}, err
	}
	m.CreateTime = fromNanos(created)
	if edited != 0 {
		m.EditTime = fromNanos(edited)
	}
	if deleted != 0 {
		m.DeleteTime = fromNanos(deleted)
	}
	m.Sender.CreateTime = fromNanos(userNow)
	return m, nil
}

// messageByClientID returns the sender's message with the client message id,
// or sql.ErrNoRows.
func messageByClientID(ctx context.Context, q querier, senderID, clientMessageID string) (parley.Message, error) {
	return scanMessage(q.QueryRowContext(ctx,
		storesql.MessageSelect+` WHERE m.sender_id = ? AND m.client_message_id = ?`,
		senderID, clientMessageID))
}

// appendMessage stores m in tx with its room's next seq from heads, or
// finds the sender's message with the same ClientMessageID (created
// false). The transaction holds SQLite's write lock from its start (BEGIN
// IMMEDIATE), so no other writer, in this process or another, can slip in
// between the insert and the select of a duplicate. If it fails, its
// writes, if any, are still in tx.
func (s *Store) appendMessage(ctx context.Context, tx *preparedTx, m parley.NewMessage, heads batchHeads) appendResult {
	// Stamped while holding the write lock, so create times follow seqs.
	created, n := s.stamp()

	sender := m.Sender
	if sender.ID != m.SenderID {
		var err error
		if sender, err = userByID(ctx, tx, m.SenderID); err != nil {
			return appendResult{err: err}
		}
	}
	seq, err := heads.next(ctx, tx, &s.heads, m.RoomID)
	if err != nil {
		if existing, ferr := messageByClientID(ctx, tx, m.SenderID, m.ClientMessageID); ferr == nil {
			return appendResult{msg: existing} // a retry still finds the original
		}
		return appendResult{err: err}
	}
	msg := parley.Message{
		ID:              newID("m_"),
		RoomID:          m.RoomID,
		Seq:             seq,
		Sender:          sender,
		Text:            m.Text,
		ClientMessageID: m.ClientMessageID,
		CreateTime:      created,
		Attachments:     m.Attachments,
	}
	attachments, err := encodeAttachments(m.Attachments)
	if err != nil {
		return appendResult{err: err}
	}
	k, err := execCount(ctx, tx, "insert message", `
		INSERT INTO messages (id, room_id, seq, sender_id, text, client_message_id, create_time, attachments)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (sender_id, client_message_id) DO NOTHING`,
		msg.ID, msg.RoomID, msg.Seq, m.SenderID, msg.Text, msg.ClientMessageID, n, attachments)
	switch {
	case isForeignKey(err): // the room exists: heads found it
		return appendResult{err: parley.Errorf(parley.ENOTFOUND, "user not found")}
	case err != nil:
		return appendResult{err: err}
	case k == 0:
		existing, err := messageByClientID(ctx, tx, m.SenderID, m.ClientMessageID)
		if err != nil {
			return appendResult{err: fmt.Errorf("select message by client id: %w", err)}
		}
		return appendResult{msg: existing}
	}
	if err := insertEvent(ctx, tx, msg.RoomID, seq, parley.EventMessage, m.SenderID, m.SenderID, msg.ID, "", n); err != nil {
		return appendResult{err: err}
	}
	heads.advance(msg.RoomID, seq)
	return appendResult{msg: msg, created: true}
}

// ListMessages returns messages of a room ascending by seq and the room's
// head seq, both read from one snapshot:
//   - with q.IsForward(), the first q.Limit messages with seq > AfterSeq;
//   - with q.BeforeSeq > 0, the last q.Limit messages with seq < BeforeSeq;
//   - with neither, the newest q.Limit messages.
//
// AfterSeq wins if both are set. ENOTFOUND if the room does not exist.
//
// By default, that is when q.Limit is not positive, it returns up to
// parley.DefaultHistoryLimit messages.
func (s *Store) ListMessages(ctx context.Context, roomID string, q parley.HistoryQuery) ([]parley.Message, int64, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = parley.DefaultHistoryLimit
	}
	tx, err := s.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("begin list messages: %w", err)
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

	var rows *sql.Rows
	if q.IsForward() {
		rows, err = tx.QueryContext(ctx,
			storesql.MessageSelect+` WHERE m.room_id = ? AND m.seq > ? ORDER BY m.seq LIMIT ?`,
			roomID, q.AfterSeq, limit)
	} else {
		before := q.BeforeSeq
		if before <= 0 {
			before = math.MaxInt64
		}
		rows, err = tx.QueryContext(ctx,
			storesql.MessageSelect+` WHERE m.room_id = ? AND m.seq < ? ORDER BY m.seq DESC LIMIT ?`,
			roomID, before, limit)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("select messages: %w", err)
	}
	defer rows.Close()
	var msgs []parley.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("scan message: %w", err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("select messages: %w", err)
	}
	if !q.IsForward() {
		slices.Reverse(msgs)
	}
	return msgs, head, nil
}
