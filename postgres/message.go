package postgres

import (
	"context"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/storesql"
)

func scanMessage(row pgx.Row) (parley.Message, error) {
	var (
		m               parley.Message
		attachments     []byte
		edited, deleted *time.Time
	)
	err := row.Scan(&m.ID, &m.RoomID, &m.Seq, &m.Text, &m.ClientMessageID, &m.CreateTime,
		&attachments, &edited, &deleted, &m.Sender.ID, &m.Sender.Username, &m.Sender.CreateTime)
	if err != nil {
		return parley.Message{}, err
	}
	if m.Attachments, err = decodeAttachments(m.RoomID, attachments); err != nil {
		return parley.Message{}, err
	}
	m.CreateTime = m.CreateTime.UTC()
	if edited != nil {
		m.EditTime = edited.UTC()
	}
	if deleted != nil {
		m.DeleteTime = deleted.UTC()
	}
	m.Sender.CreateTime = m.Sender.CreateTime.UTC()
	return m, nil
}

// messageByClientID returns the sender's message with the client message id,
// or pgx.ErrNoRows.
func messageByClientID(ctx context.Context, q querier, senderID, clientMessageID string) (parley.Message, error) {
	return scanMessage(q.QueryRow(ctx,
		storesql.MessageSelect+` WHERE m.sender_id = $1 AND m.client_message_id = $2`,
		senderID, clientMessageID))
}

// errDuplicate says the insert met a committed message with the same
// (sender, client message id): the transaction is rolled back and the
// committed message is the answer.
var errDuplicate = errors.New("duplicate client message id")

// AppendMessage stores m with the room's next seq, stamped with the Store's
// clock, and returns it once committed, with created true. If the sender
// already stored a message with the same ClientMessageID, in any room, it
// returns that one unchanged with created false, also when the two sends
// race on different replicas.
//
// The transaction logs the EventMessage and notifies NotifyChannel with
// "ROOM_ID:SEQ"; PostgreSQL
// delivers it to listeners only if the transaction commits.
//
// publish, if not nil, is called with a new message after commit. This
// process's appends to one room take turns (a striped in-process lock held
// across the transaction and publish), so they publish in seq order;
// appends through other replicas interleave, and Broker fills what they
// add from the table.
//
// m.Sender, if given, is the sender returned; otherwise the user is read.
// ENOTFOUND if the room or the sender does not exist. It does not check that
// the sender is a member: that is the caller's decision.
func (s *Store) AppendMessage(ctx context.Context, m parley.NewMessage, publish func(*parley.Message)) (parley.Message, bool, error) {
	unlock := s.rooms.Lock(m.RoomID)
	defer unlock()
	var (
		msg     parley.Message
		created bool
	)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		sender := m.Sender
		if sender.ID != m.SenderID {
			var err error
			if sender, err = userByID(ctx, tx, m.SenderID); err != nil {
				return err
			}
		}
		// The UPDATE row-locks the room until commit: concurrent appends to
		// one room, from any replica, queue here and get contiguous seqs.
		var seq int64
		err := tx.QueryRow(ctx,
			`UPDATE rooms SET head_seq = head_seq + 1 WHERE id = $1 RETURNING head_seq`, m.RoomID).Scan(&seq)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if _, err := messageByClientID(ctx, tx, m.SenderID, m.ClientMessageID); err == nil {
				return errDuplicate // a retry still finds the original
			}
			return parley.Errorf(parley.ENOTFOUND, "room not found")
		case err != nil:
			return wrap("advance head seq", err)
		}
		// Stamped while holding the room's lock, so create times follow seqs.
		msg = parley.Message{
			ID:              newID("m_"),
			RoomID:          m.RoomID,
			Seq:             seq,
			Sender:          sender,
			Text:            m.Text,
			ClientMessageID: m.ClientMessageID,
			CreateTime:      s.stamp(),
			Attachments:     m.Attachments,
		}
		attachments, err := encodeAttachments(m.Attachments)
		if err != nil {
			return err
		}
		// A retry, or a concurrent send with the same client id, is
		// found by the insert rather than a select first: a committed
		// one turns it into nothing, one not yet committed makes it wait
		// for the other's commit.
		tag, err := tx.Exec(ctx, `
			INSERT INTO messages (id, room_id, seq, sender_id, text, client_message_id, create_time, attachments)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (sender_id, client_message_id) DO NOTHING`,
			msg.ID, msg.RoomID, msg.Seq, m.SenderID, msg.Text, msg.ClientMessageID, msg.CreateTime, attachments)
		switch {
		case isForeignKey(err): // the room exists: the UPDATE found it
			return parley.Errorf(parley.ENOTFOUND, "user not found")
		case err != nil:
			return wrap("insert message", err)
		case tag.RowsAffected() == 0:
			return errDuplicate // roll back the head_seq bump
		}
		if err := insertEvent(ctx, tx, msg.RoomID, seq, parley.EventMessage, m.SenderID, m.SenderID, msg.ID, "", msg.CreateTime); err != nil {
			return err
		}
		created = true
		return nil
	})
	if commit := s.obs.Commit; commit != nil && !errors.Is(err, errDuplicate) {
		commit(1, commitFailure(err))
	}
	if errors.Is(err, errDuplicate) {
		existing, err := messageByClientID(ctx, s.pool, m.SenderID, m.ClientMessageID)
		if err != nil {
			return parley.Message{}, false, wrap("select duplicate message", err)
		}
		return existing, false, nil
	}
	if err != nil {
		return parley.Message{}, false, txErr("append message", err)
	}
	if created && publish != nil {
		publish(&msg)
	}
	return msg, created, nil
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
	var (
		msgs []parley.Message
		head int64
	)
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if head, err = headSeq(ctx, tx, roomID); err != nil {
			return err
		}
		var rows pgx.Rows
		if q.IsForward() {
			rows, err = tx.Query(ctx,
				storesql.MessageSelect+` WHERE m.room_id = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3`,
				roomID, q.AfterSeq, limit)
		} else {
			before := q.BeforeSeq
			if before <= 0 {
				before = math.MaxInt64
			}
			rows, err = tx.Query(ctx,
				storesql.MessageSelect+` WHERE m.room_id = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3`,
				roomID, before, limit)
		}
		if err != nil {
			return wrap("select messages", err)
		}
		msgs, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (parley.Message, error) { return scanMessage(row) })
		if err != nil {
			return wrap("select messages", err)
		}
		return nil
	})
	if err != nil {
		return nil, 0, txErr("list messages", err)
	}
	if !q.IsForward() {
		slices.Reverse(msgs)
	}
	return msgs, head, nil
}

// headSeqs returns the head seq of each of the rooms that exist.
func (s *Store) headSeqs(ctx context.Context, roomIDs []string) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, head_seq FROM rooms WHERE id = ANY($1)`, roomIDs)
	if err != nil {
		return nil, wrap("select head seqs", err)
	}
	heads := make(map[string]int64, len(roomIDs))
	var (
		id   string
		head int64
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &head}, func() error {
		heads[id] = head
		return nil
	})
	if err != nil {
		return nil, wrap("select head seqs", err)
	}
	return heads, nil
}

// commitFailure is err if the transaction failed for the database's sake
// (unreachable, out of space, internal), nil if it committed or was turned
// down for the caller's (a room that does not exist, ...).
func commitFailure(err error) error {
	if err == nil {
		return nil
	}
	switch parley.ErrorCodeOf(txErr("append message", err)) {
	case parley.EINTERNAL, parley.EUNAVAILABLE, parley.ESTORAGEFULL:
		return err
	}
	return nil
}
