package main

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"

	"connectrpc.com/connect"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/internal/testserver"
)

// crashState is what a message must look like after the crash.
type crashState struct {
	text    string
	deleted bool
}

// TestCrashKeepsAcknowledgedEditsAndDeletions kills parleyd with SIGKILL
// while four workers send, edit and delete messages and a fifth joins and
// leaves the room, restarts it on the same data directory and checks that
// every acknowledged edit, deletion, join and leave is there, in a room
// log without a gap (a change in flight at the kill may or may not be).
func TestCrashKeepsAcknowledgedEditsAndDeletions(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	cmd, url := startChild(t, dataDir, "--limit-sends-per-user", "off")
	u := testserver.SignUp(t, testserver.H2C(url), "crasher")
	roomID := u.CreateRoom(t, "crash-edits", parleyv1.Visibility_VISIBILITY_UNSPECIFIED).GetId()
	messages := u.Messages
	joiner := testserver.SignUp(t, testserver.H2C(url), "joiner")

	var (
		mu       sync.Mutex
		acked    = map[int64]crashState{} // message seq -> state acknowledged last
		inflight = map[int64]crashState{} // message seq -> the change in flight at the kill
		changes  int
		moves    int // the joiner's acknowledged joins and leaves
		killed   = make(chan struct{})
		wg       sync.WaitGroup
	)
	changed := func() { // with mu held
		if changes++; changes == 300 {
			// killed first: the other calls fail as soon as the signal
			// lands.
			close(killed)
			_ = cmd.Process.Signal(syscall.SIGKILL) // right after an ack
		}
	}
	ack := func(seq int64, s crashState) {
		mu.Lock()
		defer mu.Unlock()
		acked[seq] = s
		changed()
	}
	failed := func(what string, err error) bool {
		select {
		case <-killed:
			return true
		default:
			t.Errorf("%s before the kill: %v", what, err)
			return true
		}
	}
	for w := range 4 {
		wg.Go(func() {
			ctx := context.Background()
			for i := 0; ; i++ {
				text := fmt.Sprintf("w%d-%d", w, i)
				res, err := messages.SendMessage(ctx, connect.NewRequest(&parleyv1.SendMessageRequest{RoomId: roomID, Text: text, ClientMessageId: text}))
				if err != nil && failed("send", err) {
					return
				}
				seq := res.Msg.GetMessage().GetSeq()
				ack(seq, crashState{text: text})
				edited := crashState{text: text + " (edited)"}
				mu.Lock()
				inflight[seq] = edited
				mu.Unlock()
				if _, err := messages.EditMessage(ctx, connect.NewRequest(&parleyv1.EditMessageRequest{RoomId: roomID, Seq: seq, Text: edited.text})); err != nil && failed("edit", err) {
					return
				}
				ack(seq, edited)
				if i%3 != 0 {
					continue
				}
				mu.Lock()
				inflight[seq] = crashState{deleted: true}
				mu.Unlock()
				if _, err := messages.DeleteMessage(ctx, connect.NewRequest(&parleyv1.DeleteMessageRequest{RoomId: roomID, Seq: seq})); err != nil && failed("delete", err) {
					return
				}
				ack(seq, crashState{deleted: true})
			}
		})
	}
	wg.Go(func() {
		ctx := context.Background()
		for {
			if _, err := joiner.Rooms.JoinRoom(ctx, connect.NewRequest(&parleyv1.JoinRoomRequest{RoomId: roomID})); err != nil && failed("join", err) {
				return
			}
			mu.Lock()
			moves++
			changed()
			mu.Unlock()
			if _, err := joiner.Rooms.LeaveRoom(ctx, connect.NewRequest(&parleyv1.LeaveRoomRequest{RoomId: roomID})); err != nil && failed("leave", err) {
				return
			}
			mu.Lock()
			moves++
			changed()
			mu.Unlock()
		}
	})
	wg.Wait()
	_ = cmd.Wait()

	_, url = startChild(t, dataDir)
	messages = u.Via(testserver.H2C(url)).Messages
	stored := map[int64]crashState{}
	for _, m := range listAll(t, messages, roomID) {
		stored[m.GetSeq()] = crashState{text: m.GetText(), deleted: m.GetDeleteTime() != nil}
	}
	var deletes int
	for seq, want := range acked {
		got := stored[seq]
		if got != want && got != inflight[seq] {
			t.Errorf("message %d: stored %+v, want the acknowledged %+v", seq, got, want)
		}
		if want.deleted {
			deletes++
		}
	}
	// The log replays every acknowledged join and leave, seqs 1..head.
	var head int64
	if res, err := messages.ListMessages(context.Background(), connect.NewRequest(&parleyv1.ListMessagesRequest{RoomId: roomID, Limit: 1})); err != nil {
		t.Fatal(err)
	} else {
		head = res.Msg.GetHeadSeq()
	}
	stream, err := messages.Subscribe(context.Background(), connect.NewRequest(&parleyv1.SubscribeRequest{RoomId: roomID}))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	var last int64
	logged := 0
	for last < head && stream.Receive() {
		e, ok := testserver.EntryOf(stream.Msg())
		if !ok {
			continue
		}
		if e.Seq != last+1 {
			t.Fatalf("log after restart: seq %d after %d", e.Seq, last)
		}
		last = e.Seq
		if e.Kind == "joined joiner" || e.Kind == "left joiner" {
			logged++
		}
	}
	if last != head || logged < moves || logged > moves+1 {
		t.Errorf("log after restart: read to %d of head %d, %d joins and leaves of %d acknowledged", last, head, logged, moves)
	}
	t.Logf("%d acknowledged changes before SIGKILL (%d messages, %d ending deleted, %d joins and leaves); all there after restart, in a log of %d events",
		changes, len(acked), deletes, moves, head)
}
