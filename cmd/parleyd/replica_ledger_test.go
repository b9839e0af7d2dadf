package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/internal/pgtest"
	"github.com/parley-chat/parley/internal/testserver"
)

// TestReplicaLedgerThroughRollingRestart is the ledger of
// server.TestLedgerEditsAndDeletions (testserver.RunLedger) on three
// replicas of one PostgreSQL database: 10 senders send, edit and delete
// (40 operations each, and on until the restarts are over),
// 4 churners join and leave, and 6 subscribers on different protocols and
// codecs, each starting on another replica, follow the room, while each
// replica in turn is stopped with SIGTERM and started again. A call that
// fails as its replica goes away is retried on the next; a subscriber
// whose stream ends resumes on the next replica. Every subscriber must
// end with the identical log, which reproduces the history and the
// members.
func TestReplicaLedgerThroughRollingRestart(t *testing.T) {
	t.Parallel()
	const senders, churners = 10, 4
	_, db := pgtest.Schema(t, 8)
	replicas := startReplicas(t, "eventlog", 3, db)
	h1, h2c := testserver.HTTP1Client(), testserver.H2CClient()
	// via is u through every replica, starting with the first-th.
	via := func(u *testserver.User, first int, protocol, codec, transport string) []*testserver.User {
		hc := map[string]*http.Client{"http1": h1, "h2c": h2c}[transport]
		var out []*testserver.User
		for i := range replicas {
			r := replicas[(first+i)%len(replicas)]
			out = append(out, u.Via(testserver.NewClient(protocol, codec, transport, hc, r.url())))
		}
		return out
	}
	n := 0
	// signUp signs up through the replicas in turn: sign-ups are limited
	// per client address and replica.
	signUp := func(name string) *testserver.User {
		n++
		return testserver.SignUp(t, testserver.H2C(replicas[n%len(replicas)].url()), name)
	}
	owner := signUp("owner")
	room := owner.CreateRoom(t, "eventlog", parleyv1.Visibility_VISIBILITY_PUBLIC)
	l := testserver.Ledger{RoomID: room.GetId(), Owner: via(owner, 0, "connect", "proto", "h2c"),
		OpsPerSender: 40, Pause: 10 * time.Millisecond}
	for i, cell := range [][3]string{{"connect", "proto", "h2c"}, {"connect", "json", "http1"}, {"grpc", "proto", "h2c"},
		{"grpc", "json", "h2c"}, {"grpcweb", "proto", "http1"}, {"grpcweb", "json", "h2c"}} {
		u := signUp(fmt.Sprintf("reader%d", i))
		u.JoinRoom(t, room.GetId())
		name := fmt.Sprintf("%s/%s/%s, first on replica %d", cell[0], cell[1], cell[2], i%len(replicas))
		l.Readers = append(l.Readers, testserver.LedgerReader{Name: name, Via: via(u, i, cell[0], cell[1], cell[2]), Drops: i == 5})
	}
	for i := range senders {
		u := signUp(fmt.Sprintf("sender%d", i))
		u.JoinRoom(t, room.GetId())
		l.Senders = append(l.Senders, via(u, i, "connect", "proto", "h2c"))
	}
	for i := range churners {
		l.Churners = append(l.Churners, via(signUp(fmt.Sprintf("churner%d", i)), i, "grpc", "proto", "h2c"))
	}
	var restarts []time.Duration
	l.During = func() {
		time.Sleep(500 * time.Millisecond)
		for _, r := range replicas {
			t0 := time.Now()
			r.stop()
			time.Sleep(500 * time.Millisecond)
			r.start()
			restarts = append(restarts, time.Since(t0))
			time.Sleep(500 * time.Millisecond)
		}
	}
	start := time.Now()
	res := testserver.RunLedger(t, l)
	t.Logf("%d events (%v) in %v through restarts taking %v; %d calls retried; subscribers used %v streams",
		res.Head, res.Counts, time.Since(start).Round(time.Millisecond), restarts, res.Retries, res.Streams)
}
