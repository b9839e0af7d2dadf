package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/inmem"
	"github.com/parley-chat/parley/internal/pgtest"
	"github.com/parley-chat/parley/postgres"
)

// replicaPair opens two Stores and Brokers on one schema, as two replicas
// would, with a room and its creator.
func replicaPair(t *testing.T, opts ...postgres.BrokerOption) (schema string, stores [2]*postgres.Store, brokers [2]*postgres.Broker, room parley.Room, alice parley.User) {
	t.Helper()
	schema, u := pgtest.Schema(t, 4)
	for i := range 2 {
		stores[i] = open(t, u)
		brokers[i] = postgres.NewBroker(stores[i], inmem.NewBroker(), opts...)
		t.Cleanup(func() { _ = brokers[i].Close() })
	}
	var err error
	if alice, err = stores[0].CreateUser(t.Context(), "alice", []byte("h")); err != nil {
		t.Fatal(err)
	}
	if room, err = stores[0].CreateRoom(t.Context(), "general", parley.Public, alice.ID); err != nil {
		t.Fatal(err)
	}
	return schema, stores, brokers, room, alice
}

// receive returns the seqs of the next n message events, failing the test
// if they do not arrive within timeout.
func receive(t *testing.T, sub parley.Subscription, n int, timeout time.Duration) []int64 {
	t.Helper()
	var seqs []int64
	deadline := time.After(timeout)
	for len(seqs) < n {
		select {
		case <-sub.Ready():
			for _, ev := range sub.Drain(nil) {
				if ev.Kind == parley.EventMessage {
					seqs = append(seqs, ev.Seq())
				}
			}
		case <-deadline:
			t.Fatalf("received %v, then nothing for %v; want %d messages", seqs, timeout, n)
		}
	}
	return seqs
}

func wantSeqs(t *testing.T, got []int64, from, to int64) {
	t.Helper()
	if int64(len(got)) != to-from+1 {
		t.Fatalf("seqs = %v, want %d..%d", got, from, to)
	}
	for i, s := range got {
		if s != from+int64(i) {
			t.Fatalf("seqs = %v, want %d..%d", got, from, to)
		}
	}
}

// TestBrokerCrossReplica appends on one replica and expects the other's
// subscribers to get every message, in order, through LISTEN/NOTIFY; the
// appending replica's own Publish reaches its subscribers once.
func TestBrokerCrossReplica(t *testing.T) {
	t.Parallel()
	_, stores, brokers, room, alice := replicaPair(t, postgres.WithPollInterval(time.Hour))
	local := brokers[0].Subscribe(room.ID)
	defer local.Close()
	remote := brokers[1].Subscribe(room.ID)
	defer remote.Close()
	for i := range 50 {
		m, _, err := stores[0].AppendMessage(t.Context(), parley.NewMessage{RoomID: room.ID, SenderID: alice.ID, Text: "hi", ClientMessageID: fmt.Sprint(i)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		brokers[0].Publish(&parley.Event{Kind: parley.EventMessage, RoomID: room.ID, Message: &m})
	}
	wantSeqs(t, receive(t, local, 50, 5*time.Second), 1, 50)
	wantSeqs(t, receive(t, remote, 50, 5*time.Second), 1, 50)
	select {
	case <-local.Ready():
		for _, ev := range local.Drain(nil) {
			t.Errorf("local subscriber got seq %d twice", ev.Seq())
		}
	case <-time.After(100 * time.Millisecond):
	}
}

// TestBrokerLostNotificationOnlyDelays stores messages without a
// notification (as if it were lost) and expects the poll to deliver them.
func TestBrokerLostNotificationOnlyDelays(t *testing.T) {
	t.Parallel()
	schema, _, brokers, room, alice := replicaPair(t, postgres.WithPollInterval(100*time.Millisecond))
	sub := brokers[1].Subscribe(room.ID)
	defer sub.Close()
	conn := pgtest.Connect(t)
	// What AppendMessage does, minus pg_notify.
	if _, err := conn.Exec(t.Context(), `
		WITH r AS (UPDATE `+schema+`.rooms SET head_seq = head_seq + 1 WHERE id = $1 RETURNING head_seq)
		INSERT INTO `+schema+`.messages (id, room_id, seq, sender_id, text, client_message_id, create_time)
		SELECT 'm_silent', $1, head_seq, $2, 'silent', 'silent', now() FROM r`, room.ID, alice.ID); err != nil {
		t.Fatalf("insert without notify: %v", err)
	}
	wantSeqs(t, receive(t, sub, 1, 5*time.Second), 1, 1)
}
