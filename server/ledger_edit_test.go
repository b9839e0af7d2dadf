package server_test

import (
	"fmt"
	"testing"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/internal/testserver"
)

// TestLedgerEditsAndDeletions: 10 senders send, edit and delete their own
// messages at random while 4 churners join and leave the room (or are
// added by its owner and leave), and 6 subscribers on different protocols
// and codecs follow the room, one of them dropping its stream and resuming
// from its last seq again and again. Every subscriber ends with the same
// log, seqs 1..head without a gap, and applying it reproduces exactly what
// ListMessages and ListMembers return (testserver.RunLedger).
func TestLedgerEditsAndDeletions(t *testing.T) {
	t.Parallel()
	const senders, churners = 10, 4
	srv := testserver.Start(t)
	h2c := srv.Client(t, "connect/proto/h2c")
	owner := testserver.SignUp(t, h2c, "owner")
	room := owner.CreateRoom(t, "ledger-edits", parleyv1.Visibility_VISIBILITY_PUBLIC)
	l := testserver.Ledger{RoomID: room.GetId(), Owner: []*testserver.User{owner}}

	subClients := []string{"connect/proto/h2c", "connect/json/http1", "grpc/proto/h2c", "grpc/json/tls", "grpcweb/proto/http1", "grpcweb/json/tls"}
	for i, name := range subClients {
		u := testserver.SignUp(t, srv.Client(t, name), fmt.Sprintf("reader%d", i))
		u.JoinRoom(t, room.GetId())
		l.Readers = append(l.Readers, testserver.LedgerReader{Name: name, Via: []*testserver.User{u}, Drops: i == len(subClients)-1})
	}
	for i := range senders {
		u := testserver.SignUp(t, h2c, fmt.Sprintf("sender%d", i))
		u.JoinRoom(t, room.GetId())
		l.Senders = append(l.Senders, []*testserver.User{u})
	}
	for i := range churners {
		l.Churners = append(l.Churners, []*testserver.User{testserver.SignUp(t, h2c, fmt.Sprintf("churner%d", i))})
	}
	res := testserver.RunLedger(t, l)
	t.Logf("%d events (%v) from %d senders and %d churners; %d subscribers agree; the dropping one used %d streams",
		res.Head, res.Counts, senders, churners, len(l.Readers), res.Streams[len(res.Streams)-1])
}
