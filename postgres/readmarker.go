package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley"
)

// ReadMarkerChannel is the channel MarkRead notifies on, in the
// transaction that moves the marker, with a small JSON payload
// (readMarkerPayload), so that a user's streams on every replica hear of
// it. Read markers are not in the room log: a notification lost while a
// Broker's listening connection is down is not caught up (the marker
// itself is stored, and GetRoom reads it).
const ReadMarkerChannel = "parley_read_markers"

// readMarkerPayload is a read marker as notified.
type readMarkerPayload struct {
	RoomID  string `json:"r"`
	UserID  string `json:"u"`
	ReadSeq int64  `json:"s"`
	Time    int64  `json:"t"` // Unix nanoseconds
}

// notifyReadMarker notifies ReadMarkerChannel in tx.
func notifyReadMarker(ctx context.Context, tx pgx.Tx, roomID, userID string, seq int64, at time.Time) error {
	payload, err := json.Marshal(readMarkerPayload{RoomID: roomID, UserID: userID, ReadSeq: seq, Time: at.UnixNano()})
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, ReadMarkerChannel, string(payload)); err != nil {
		return wrap("notify read marker", err)
	}
	return nil
}

// readMarked publishes a notified read marker to the room's local
// subscribers, if it has any (feed.go in server hands it only to the
// user's own streams).
func (b *Broker) readMarked(payload string) {
	var p readMarkerPayload
	if err := json.Unmarshal([]byte(payload), &p); err != nil || p.RoomID == "" || p.UserID == "" {
		return
	}
	b.publishReadMarker(&parley.Event{Kind: parley.EventReadMarker, RoomID: p.RoomID,
		User: parley.User{ID: p.UserID}, ReadSeq: p.ReadSeq, Time: time.Unix(0, p.Time).UTC()})
}

// publishReadMarker hands a read marker to local subscribers unless the
// room has none or the user's marker there was already published at or
// beyond it: the replica that served MarkRead publishes it at once and
// hears its own notification later.
func (b *Broker) publishReadMarker(e *parley.Event) {
	feed := b.feed(e.RoomID)
	if feed == nil {
		return
	}
	feed.mu.Lock()
	defer feed.mu.Unlock()
	if feed.markers == nil {
		feed.markers = make(map[string]int64)
	}
	if last, ok := feed.markers[e.User.ID]; ok && e.ReadSeq <= last {
		return
	}
	feed.markers[e.User.ID] = e.ReadSeq
	b.local.Publish(e)
}
