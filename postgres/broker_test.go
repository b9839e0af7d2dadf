package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/inmem"
	"github.com/parley-chat/parley/internal/pgtest"
	"github.com/parley-chat/parley/internal/storetest"
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
	alice = storetest.CreateUser(t, stores[0], "alice")
	room = storetest.CreateRoom(t, stores[0], "general", parley.Public, alice)
	return schema, stores, brokers, room, alice
}

// TestBroker runs the broker suite on Brokers over one Store; the suite's
// rooms are not in the database, so only its publishes reach subscribers.
func TestBroker(t *testing.T) {
	t.Parallel()
	_, u := pgtest.Schema(t, 4)
	store := open(t, u)
	storetest.RunBroker(t, func(t *testing.T, queueSize int) parley.Broker {
		b := postgres.NewBroker(store, inmem.NewBroker(inmem.WithQueueSize(queueSize)))
		t.Cleanup(func() { _ = b.Close() })
		return b
	})
}

// TestBrokerCrossReplica appends on one replica and expects the other's
// subscribers to get every message, in order, through LISTEN/NOTIFY; the
// appending replica's own Publish reaches its subscribers once.
func TestBrokerCrossReplica(t *testing.T) {
	t.Parallel()
	_, stores, brokers, room, alice := replicaPair(t, postgres.WithPollInterval(time.Hour))
	local := storetest.Subscribe(t, brokers[0], room.ID)
	remote := storetest.Subscribe(t, brokers[1], room.ID)
	for i := range 50 {
		m, _, err := stores[0].AppendMessage(t.Context(), parley.NewMessage{RoomID: room.ID, SenderID: alice.ID, Text: "hi", ClientMessageID: fmt.Sprint(i)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		brokers[0].Publish(&parley.Event{Kind: parley.EventMessage, RoomID: room.ID, Seq: m.Seq, Message: &m})
	}
	storetest.WantSeqs(t, storetest.ReceiveSeqs(t, local, 50), 1, 50)
	storetest.WantSeqs(t, storetest.ReceiveSeqs(t, remote, 50), 1, 50)
	select {
	case <-local.Ready():
		for _, ev := range local.Drain(nil) {
			t.Errorf("local subscriber got seq %d twice", ev.Seq)
		}
	case <-time.After(100 * time.Millisecond):
	}
}

// TestBrokerCrossReplicaMembersAndReadMarkers changes membership and moves
// a read marker on one replica: the other's subscribers get the member
// events in the log's order, and the read marker once, on the same path;
// the replica that moved the marker publishes it once too.
func TestBrokerCrossReplicaMembersAndReadMarkers(t *testing.T) {
	t.Parallel()
	_, stores, brokers, room, alice := replicaPair(t, postgres.WithPollInterval(time.Hour))
	local, remote := listenBoth(t, brokers, room.ID)
	bob := storetest.CreateUser(t, stores[0], "bob")
	if _, err := stores[0].AddMember(t.Context(), room.ID, bob.ID, bob.ID, brokers[0].Publish); err != nil {
		t.Fatal(err)
	}
	if _, err := stores[0].AddMember(t.Context(), room.ID, bob.ID, alice.ID, brokers[0].Publish); parley.ErrorCodeOf(err) != parley.ECONFLICT {
		t.Fatalf("AddMember again: %v, want ECONFLICT", err)
	}
	if err := stores[0].RemoveMember(t.Context(), room.ID, bob.ID, alice.ID, brokers[0].Publish); err != nil {
		t.Fatal(err)
	}
	storetest.WantSeqs(t, storetest.ReceiveSeqs(t, remote, 2), 1, 2)
	storetest.WantSeqs(t, storetest.ReceiveSeqs(t, local, 2), 1, 2)

	marker, err := stores[0].MarkRead(t.Context(), room.ID, alice.ID, 2)
	if err != nil {
		t.Fatal(err)
	}
	brokers[0].Publish(&parley.Event{Kind: parley.EventReadMarker, RoomID: room.ID, User: alice, ReadSeq: marker, Time: time.Now()})
	for name, sub := range map[string]parley.Subscription{"remote": remote, "local": local} {
		got := receiveOnce(t, name, sub) // the local one hears its own notification too, which it must skip
		if len(got) != 1 || got[0].Kind != parley.EventReadMarker || got[0].User.ID != alice.ID || got[0].ReadSeq != 2 || got[0].Seq != 0 {
			t.Errorf("%s: %d events, first %+v; want alice's read marker at 2 once, outside the log", name, len(got), got[0])
		}
	}
}

// TestBrokerCrossReplicaTyping publishes a typing notice on one replica:
// the other's subscribers get it once, and the replica that published it
// does not hear it again.
func TestBrokerCrossReplicaTyping(t *testing.T) {
	t.Parallel()
	_, _, brokers, room, alice := replicaPair(t, postgres.WithPollInterval(time.Hour))
	local, remote := listenBoth(t, brokers, room.ID)
	brokers[0].Publish(&parley.Event{Kind: parley.EventTyping, RoomID: room.ID, User: alice, Time: time.Now()})
	for name, sub := range map[string]parley.Subscription{"remote": remote, "local": local} {
		got := receiveOnce(t, name, sub)
		if len(got) != 1 || got[0].Kind != parley.EventTyping || got[0].User.ID != alice.ID || got[0].User.Username != alice.Username {
			t.Errorf("%s: %d events, first %+v; want alice typing once", name, len(got), got[0])
		}
	}
}

// receiveOnce returns what sub receives within 5 s, and whatever follows
// within 300 ms: a second copy of an event that must come once.
func receiveOnce(t *testing.T, name string, sub parley.Subscription) []*parley.Event {
	t.Helper()
	var got []*parley.Event
	select {
	case <-sub.Ready():
		got = sub.Drain(nil)
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: nothing within 5s", name)
	}
	select {
	case <-sub.Ready():
		got = sub.Drain(got)
	case <-time.After(300 * time.Millisecond):
	}
	return got
}

// TestBrokerLostNotificationOnlyDelays stores messages without a
// notification (as if it were lost) and expects the poll to deliver them.
func TestBrokerLostNotificationOnlyDelays(t *testing.T) {
	t.Parallel()
	schema, _, brokers, room, alice := replicaPair(t, postgres.WithPollInterval(100*time.Millisecond))
	sub := storetest.Subscribe(t, brokers[1], room.ID)
	conn := pgtest.Connect(t)
	// What AppendMessage does, minus pg_notify.
	if _, err := conn.Exec(t.Context(), `
		WITH r AS (UPDATE `+schema+`.rooms SET head_seq = head_seq + 1 WHERE id = $1 RETURNING head_seq),
		m AS (INSERT INTO `+schema+`.messages (id, room_id, seq, sender_id, text, client_message_id, create_time)
			SELECT 'm_silent', $1, head_seq, $2, 'silent', 'silent', now() FROM r RETURNING seq)
		INSERT INTO `+schema+`.room_events (room_id, seq, kind, user_id, actor_id, message_id, create_time)
		SELECT $1, seq, 1, $2, $2, 'm_silent', now() FROM m`, room.ID, alice.ID); err != nil {
		t.Fatalf("insert without notify: %v", err)
	}
	storetest.WantSeqs(t, storetest.ReceiveSeqs(t, sub, 1), 1, 1)
}

// TestBrokerSubscribeUnreachable cuts a replica off from the database: the
// first subscriber of a room fails at once with unavailable and leaves
// nothing registered, a room already followed can still be subscribed
// (that needs no database), and once the database is back the room can be
// subscribed again and starts at its head.
func TestBrokerSubscribeUnreachable(t *testing.T) {
	t.Parallel()
	_, u := pgtest.Schema(t, 2)
	proxy, viaProxy := pgtest.StartProxy(t, u)
	store := open(t, viaProxy)
	broker := postgres.NewBroker(store, inmem.NewBroker(), postgres.WithPollInterval(time.Hour))
	t.Cleanup(func() { _ = broker.Close() })
	alice := storetest.CreateUser(t, store, "alice")
	var rooms [2]parley.Room
	for i := range rooms {
		rooms[i] = storetest.CreateRoom(t, store, fmt.Sprint("room", i), parley.Public, alice)
	}
	followed := storetest.Subscribe(t, broker, rooms[0].ID)

	proxy.Cut()
	start := time.Now()
	sub, err := broker.Subscribe(t.Context(), rooms[1].ID)
	took := time.Since(start)
	if sub != nil || parley.ErrorCodeOf(err) != parley.EUNAVAILABLE {
		t.Fatalf("Subscribe while the database is unreachable: %v, %v; want no subscription and code unavailable", sub, err)
	}
	if took > time.Second {
		t.Errorf("Subscribe while the database is unreachable took %v", took)
	}
	if n := postgres.FollowedRooms(broker); n != 1 {
		t.Errorf("rooms followed after a failed Subscribe: %d, want 1", n)
	}
	storetest.Subscribe(t, broker, rooms[0].ID).Close()
	followed.Close()
	if n := postgres.FollowedRooms(broker); n != 0 {
		t.Errorf("rooms followed after every subscription closed: %d", n)
	}

	proxy.Restore()
	var m parley.Message
	for i := 0; ; i++ { // the pool may meet a connection the cut left dead
		if m, _, err = store.AppendMessage(t.Context(), parley.NewMessage{RoomID: rooms[1].ID, SenderID: alice.ID, Text: "hi", ClientMessageID: "before"}, nil); err == nil {
			break
		}
		if parley.ErrorCodeOf(err) != parley.EUNAVAILABLE || i == 5 {
			t.Fatalf("AppendMessage after the database is back: %v", err)
		}
	}
	sub = storetest.Subscribe(t, broker, rooms[1].ID)
	broker.Publish(&parley.Event{Kind: parley.EventMessage, RoomID: m.RoomID, Seq: m.Seq, Message: &m}) // at or before the head: already replayed
	next := parley.Message{RoomID: m.RoomID, Seq: m.Seq + 1}
	broker.Publish(&parley.Event{Kind: parley.EventMessage, RoomID: next.RoomID, Seq: next.Seq, Message: &next})
	storetest.WantSeqs(t, storetest.ReceiveSeqs(t, sub, 1), next.Seq, next.Seq)
}

// listenBoth waits until both brokers LISTEN and subscribes to roomID on
// each: local on the first, remote on the second.
func listenBoth(t *testing.T, brokers [2]*postgres.Broker, roomID string) (local, remote parley.Subscription) {
	t.Helper()
	waitListening(t, brokers[:]...)
	return storetest.Subscribe(t, brokers[0], roomID), storetest.Subscribe(t, brokers[1], roomID)
}

// waitListening waits until every broker LISTENs, so that a revocation,
// which is not caught up afterwards, is heard.
func waitListening(t *testing.T, brokers ...*postgres.Broker) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, b := range brokers {
		for !postgres.Listening(b) {
			if time.Now().After(deadline) {
				t.Fatal("broker not listening after 5 s")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// revocations records what a broker's revocation handler gets.
type revocations chan parley.Revocation

// handleRevocations records b's revocations until the test ends. The
// handler must not block, so what does not fit is dropped.
func handleRevocations(t *testing.T, b *postgres.Broker) revocations {
	ch := make(revocations, 1024)
	t.Cleanup(b.HandleRevocations(func(r parley.Revocation) {
		select {
		case ch <- r:
		default:
		}
	}))
	return ch
}

// next returns the next revocation with the given token hash or user and
// room, skipping others (parallel tests share the channel), or fails.
func (ch revocations) next(t *testing.T, want parley.Revocation) time.Duration {
	t.Helper()
	start := time.Now()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case r := <-ch:
			if string(r.TokenHash) == string(want.TokenHash) && r.UserID == want.UserID && r.RoomID == want.RoomID {
				return time.Since(start)
			}
		case <-timeout:
			t.Fatalf("revocation %+v not handled within 5 s", want)
		}
	}
}

// TestBrokerRevocationCrossReplica revokes a session and a membership on
// one replica: the other's handlers get each once, through
// RevocationChannel, and the revoking replica's handlers get each once
// (its own notification, heard as well, is not handed over again).
func TestBrokerRevocationCrossReplica(t *testing.T) {
	t.Parallel()
	_, _, brokers, room, alice := replicaPair(t, postgres.WithPollInterval(time.Hour))
	waitListening(t, brokers[0], brokers[1])
	local, remote := handleRevocations(t, brokers[0]), handleRevocations(t, brokers[1])
	for _, r := range []parley.Revocation{
		{TokenHash: []byte("0123456789abcdef0123456789abcdef")},
		{UserID: alice.ID, RoomID: room.ID},
	} {
		start := time.Now()
		if err := brokers[0].Revoke(t.Context(), r); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		local.next(t, r)
		remote.next(t, r)
		kind := "membership"
		if r.IsSession() {
			kind = "session"
		}
		t.Logf("%s revocation reached the other replica after %v", kind, time.Since(start))
	}
	// A revocation from the other side is heard after broker 0's own
	// notifications (one connection, in commit order): by then a
	// duplicate would have been handed over.
	back := parley.Revocation{TokenHash: []byte("fedcba9876543210fedcba9876543210")}
	if err := brokers[1].Revoke(t.Context(), back); err != nil {
		t.Fatal(err)
	}
	remote.next(t, back)
	local.next(t, back)
	for {
		select {
		case r := <-local:
			if r.RoomID == room.ID || string(r.TokenHash) == "0123456789abcdef0123456789abcdef" {
				t.Errorf("broker 0 handled %+v again", r)
			}
		default:
			return
		}
	}
}
