package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/parley-chat/parley"
)

// TypingChannel carries typing notices between replicas: ephemeral, never
// stored, and dropped once typingQueue of them wait for a slow database, so
// a notice may be lost but never delays anything else.
const TypingChannel = "parley_typing"

// typingQueue is how many typing notices wait to be notified at most;
// more are dropped (Publish must not block).
const typingQueue = 256

// typingPayload is a typing notice as notified.
type typingPayload struct {
	Origin   string `json:"o"` // the Broker that published it, which skips its own
	RoomID   string `json:"r"`
	UserID   string `json:"u"`
	Username string `json:"n"`
	Time     int64  `json:"t"` // Unix nanoseconds
}

// publishTyping hands a typing notice to local subscribers at once and
// queues it for the other replicas.
func (b *Broker) publishTyping(e *parley.Event) {
	b.local.Publish(e)
	payload, err := json.Marshal(typingPayload{Origin: b.origin, RoomID: e.RoomID, UserID: e.User.ID,
		Username: e.User.Username, Time: e.Time.UnixNano()})
	if err != nil {
		return
	}
	select {
	case b.typing <- string(payload):
	default: // the database is behind: typing notices are the first to go
	}
}

// notifyTyping sends queued typing notices until ctx ends.
func (b *Broker) notifyTyping(ctx context.Context) {
	defer b.done.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case payload := <-b.typing:
			nctx, cancel := context.WithTimeout(ctx, time.Second)
			if _, err := b.store.pool.Exec(nctx, `SELECT pg_notify($1, $2)`, TypingChannel, payload); err != nil {
				b.logger.Debug("notify typing", "err", err)
			}
			cancel()
		}
	}
}

// typed publishes another replica's typing notice to the room's local
// subscribers, if it has any.
func (b *Broker) typed(payload string) {
	var p typingPayload
	if err := json.Unmarshal([]byte(payload), &p); err != nil || p.Origin == b.origin || p.RoomID == "" || p.UserID == "" {
		return
	}
	if b.feed(p.RoomID) == nil {
		return
	}
	b.local.Publish(&parley.Event{Kind: parley.EventTyping, RoomID: p.RoomID,
		User: parley.User{ID: p.UserID, Username: p.Username}, Time: time.Unix(0, p.Time).UTC()})
}
