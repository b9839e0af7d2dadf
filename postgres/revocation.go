package postgres

import (
	"context"
	"encoding/hex"
	"encoding/json"

	"github.com/parley-chat/parley"
)

var _ parley.RevocationBroker = (*Broker)(nil)

// RevocationChannel is the channel Broker.Revoke notifies on, with a
// small JSON payload (revocationPayload). It is separate from
// NotifyChannel so that room events and revocations stay independent.
// Like NotifyChannel it is per database, not per schema: brokers in other
// schemas hear the revocation and find no stream with that random token
// hash or id to end.
const RevocationChannel = "parley_revocations"

// LocalBroker is what a Broker delivers to in its own process: room
// events and revocations (inmem.Broker is one).
type LocalBroker interface {
	parley.Broker
	parley.RevocationBroker
}

// revocationPayload is a revocation as notified. Origin is the notifying
// Broker's, so that it skips its own notification: Revoke has already
// handed the revocation to its local handlers.
type revocationPayload struct {
	Origin    string `json:"o"`
	TokenHash string `json:"t,omitempty"` // hex
	UserID    string `json:"u,omitempty"`
	RoomID    string `json:"r,omitempty"`
}

// Revoke implements parley.RevocationBroker: the revocation goes to this
// process's handlers at once, then to every other Broker on the database
// with one NOTIFY on RevocationChannel, which each hands to its local
// handlers as soon as its listening connection reads it (a few
// milliseconds). A Broker whose listening connection is down at that
// moment misses it; its streams end at their next session re-check.
func (b *Broker) Revoke(ctx context.Context, r parley.Revocation) error {
	if err := b.local.Revoke(ctx, r); err != nil {
		return err
	}
	payload, err := json.Marshal(revocationPayload{Origin: b.origin, TokenHash: hex.EncodeToString(r.TokenHash), UserID: r.UserID, RoomID: r.RoomID})
	if err != nil {
		return err
	}
	if _, err := b.store.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, RevocationChannel, string(payload)); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return wrap("notify revocation", err)
	}
	return nil
}

// HandleRevocations implements parley.RevocationBroker: handle gets the
// revocations of this process and of every other Broker on the database.
func (b *Broker) HandleRevocations(handle func(parley.Revocation)) (stop func()) {
	return b.local.HandleRevocations(handle)
}

// revoked hands a revocation another Broker notified to the local
// handlers; its own, and payloads it cannot read, it ignores.
func (b *Broker) revoked(ctx context.Context, payload string) {
	var p revocationPayload
	if err := json.Unmarshal([]byte(payload), &p); err != nil || p.Origin == b.origin {
		return
	}
	hash, err := hex.DecodeString(p.TokenHash)
	if err != nil {
		return
	}
	r := parley.Revocation{TokenHash: hash, UserID: p.UserID, RoomID: p.RoomID}
	if !r.IsSession() && (r.UserID == "" || r.RoomID == "") {
		return
	}
	_ = b.local.Revoke(context.WithoutCancel(ctx), r) // delivered even as the listener stops
}
