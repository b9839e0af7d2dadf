package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"connectrpc.com/connect"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/internal/testserver"
)

// appliedMessage is a message as a subscriber rebuilds it from the log.
type appliedMessage struct {
	text            string
	edited, deleted bool
}

// TestLedgerEditsAndDeletions: 10 senders send, edit and delete their own
// messages at random while 6 subscribers on different protocols and
// codecs follow the room, one of them dropping its stream and resuming
// from its last seq again and again. Every subscriber ends with the same
// log, seqs 1..head without a gap, and applying it reproduces exactly
// what ListMessages returns.
func TestLedgerEditsAndDeletions(t *testing.T) {
	t.Parallel()
	const (
		senders      = 10
		opsPerSender = 60
		dropEvery    = 37 // the dropping subscriber resumes after this many events
	)
	srv := testserver.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*testserver.CallTimeout)
	defer cancel()
	h2c := srv.Client(t, "connect/proto/h2c")
	owner := testserver.SignUp(t, h2c, "owner")
	room := owner.CreateRoom(t, "ledger-edits", parleyv1.Visibility_VISIBILITY_PUBLIC)

	subClients := []string{"connect/proto/h2c", "connect/json/http1", "grpc/proto/h2c", "grpc/json/tls", "grpcweb/proto/http1", "grpcweb/json/tls"}
	type subscriber struct {
		name    string
		user    *testserver.User
		drops   bool
		entries []logEntry
		applied map[int64]appliedMessage
		streams int
	}
	subs := make([]*subscriber, len(subClients))
	for i, name := range subClients {
		u := testserver.SignUp(t, srv.Client(t, name), fmt.Sprintf("reader%d", i))
		u.JoinRoom(t, room.GetId())
		subs[i] = &subscriber{name: name, user: u, drops: i == len(subClients)-1, applied: map[int64]appliedMessage{}}
	}

	// follow reads the room until it has seen seq target (known once the
	// senders are done), resuming from its last seq whenever it drops.
	targets := make(chan int64, len(subs))
	var follow sync.WaitGroup
	for _, s := range subs {
		follow.Add(1)
		go func() {
			defer follow.Done()
			var last, target int64 = 0, -1
			for target < 0 || last < target {
				streamCtx, stop := context.WithCancel(ctx)
				stream, err := s.user.Messages.Subscribe(streamCtx, connect.NewRequest(&parleyv1.SubscribeRequest{RoomId: room.GetId(), SinceSeq: last}))
				if err != nil {
					stop()
					t.Errorf("%s: Subscribe: %v", s.name, err)
					return
				}
				s.streams++
				n := 0
				for stream.Receive() {
					e, ok := entryOf(stream.Msg())
					if ok {
						if e.seq != last+1 {
							t.Errorf("%s: seq %d after %d", s.name, e.seq, last)
						}
						last = e.seq
						s.entries = append(s.entries, e)
						apply(s.applied, stream.Msg())
						n++
					}
					if target < 0 {
						select {
						case target = <-targets:
						default:
						}
					}
					if target >= 0 && last >= target || s.drops && n == dropEvery {
						break
					}
				}
				stop()
				_ = stream.Close()
				if ctx.Err() != nil {
					t.Errorf("%s: gave up at seq %d (target %d)", s.name, last, target)
					return
				}
			}
		}()
	}

	var send sync.WaitGroup
	for i := range senders {
		send.Add(1)
		go func() {
			defer send.Done()
			u := testserver.SignUp(t, h2c, fmt.Sprintf("sender%d", i))
			u.JoinRoom(t, room.GetId())
			rng := rand.New(rand.NewPCG(uint64(i), 17))
			var live []int64 // own messages not deleted
			for op := range opsPerSender {
				switch r := rng.IntN(100); {
				case r < 25 && len(live) > 0:
					seq := live[rng.IntN(len(live))]
					if _, err := u.Messages.EditMessage(ctx, connect.NewRequest(&parleyv1.EditMessageRequest{RoomId: room.GetId(), Seq: seq, Text: fmt.Sprintf("edit %d of %d by %d", op, seq, i)})); err != nil {
						t.Errorf("EditMessage: %v", err)
						return
					}
				case r < 40 && len(live) > 0:
					j := rng.IntN(len(live))
					if _, err := u.Messages.DeleteMessage(ctx, connect.NewRequest(&parleyv1.DeleteMessageRequest{RoomId: room.GetId(), Seq: live[j]})); err != nil {
						t.Errorf("DeleteMessage: %v", err)
						return
					}
					live = slices.Delete(live, j, j+1)
				default:
					m := u.SendMessage(t, room.GetId(), fmt.Sprintf("message %d from %d", op, i), fmt.Sprintf("s%d-%d", i, op))
					live = append(live, m.GetSeq())
				}
			}
		}()
	}
	send.Wait()

	// The history, read whole, and the head.
	history := map[int64]appliedMessage{}
	var head int64
	for after := int64(0); ; {
		res, err := owner.Messages.ListMessages(ctx, connect.NewRequest(&parleyv1.ListMessagesRequest{RoomId: room.GetId(), AfterSeq: &after, Limit: 500}))
		if err != nil {
			t.Fatal(err)
		}
		head = res.Msg.GetHeadSeq()
		for _, m := range res.Msg.GetMessages() {
			history[m.GetSeq()] = appliedMessage{text: m.GetText(), edited: m.GetEditTime() != nil, deleted: m.GetDeleteTime() != nil}
			after = m.GetSeq()
		}
		if len(res.Msg.GetMessages()) < 500 {
			break
		}
	}
	for range subs {
		targets <- head
	}
	follow.Wait()

	counts := map[string]int{}
	for _, e := range subs[0].entries {
		counts[e.kind]++
	}
	for _, s := range subs {
		if int64(len(s.entries)) != head || fmt.Sprint(s.entries) != fmt.Sprint(subs[0].entries) {
			t.Errorf("%s: %d events, differ from %s's %d (head %d)", s.name, len(s.entries), subs[0].name, len(subs[0].entries), head)
		}
		if fmt.Sprint(s.applied) != fmt.Sprint(history) {
			t.Errorf("%s: applying the log gives %d messages that differ from ListMessages' %d", s.name, len(s.applied), len(history))
		}
	}
	t.Logf("%d events (%v) from %d senders; %d subscribers agree; the dropping one used %d streams",
		head, counts, senders, len(subs), subs[len(subs)-1].streams)
}

// apply changes msgs by one Subscribe event.
func apply(msgs map[int64]appliedMessage, res *parleyv1.SubscribeResponse) {
	switch e := res.GetEvent().(type) {
	case *parleyv1.SubscribeResponse_Message:
		m := e.Message
		msgs[m.GetSeq()] = appliedMessage{text: m.GetText(), edited: m.GetEditTime() != nil, deleted: m.GetDeleteTime() != nil}
	case *parleyv1.SubscribeResponse_MessageEdited:
		m := e.MessageEdited.GetMessage()
		msgs[m.GetSeq()] = appliedMessage{text: m.GetText(), edited: true}
	case *parleyv1.SubscribeResponse_MessageDeleted:
		old := msgs[e.MessageDeleted.GetMessage().GetSeq()]
		msgs[e.MessageDeleted.GetMessage().GetSeq()] = appliedMessage{edited: old.edited, deleted: true}
	}
}
