package server_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/server"
)

// receiveLog reads n log entries from a Subscribe stream.
func receiveLog(t *testing.T, stream *connect.ServerStreamForClient[parleyv1.SubscribeResponse], n int) []testserver.LogEntry {
	t.Helper()
	var got []testserver.LogEntry
	for len(got) < n && stream.Receive() {
		if e, ok := testserver.EntryOf(stream.Msg()); ok {
			got = append(got, e)
		}
	}
	if len(got) < n {
		t.Fatalf("stream ended after %v: %v", got, stream.Err())
	}
	return got
}

// editUsers numbers the users of TestEditDeleteMarkRead's subtests.
var editUsers atomic.Int64

// TestEditDeleteMarkRead edits and deletes messages and moves read markers
// through every protocol and codec: only the sender edits, the sender or
// the room's creator deletes, retries store nothing, a subscriber sees the
// changes live and a new one replays them, history lists the latest form,
// and unread counts follow the marker.
func TestEditDeleteMarkRead(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	for _, c := range srv.Clients() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), testserver.CallTimeout)
			defer cancel()
			id := fmt.Sprint(editUsers.Add(1))
			alice := testserver.SignUp(t, c, "alice"+id)
			bob := testserver.SignUp(t, c, "bob"+id)
			carol := testserver.SignUp(t, c, "carol"+id)
			room := alice.CreateRoom(t, "edits-"+id, parleyv1.Visibility_VISIBILITY_PUBLIC)
			bob.JoinRoom(t, room.GetId())
			carol.JoinRoom(t, room.GetId())
			live, err := carol.Messages.Subscribe(ctx, connect.NewRequest(&parleyv1.SubscribeRequest{RoomId: room.GetId()}))
			if err != nil {
				t.Fatal(err)
			}
			defer live.Close()

			m1 := alice.SendMessage(t, room.GetId(), "helo", "c1")
			m2 := bob.SendMessage(t, room.GetId(), "oops", "c2")
			edit := &parleyv1.EditMessageRequest{RoomId: room.GetId(), Seq: m1.GetSeq(), Text: "hello"}
			res, err := alice.Messages.EditMessage(ctx, connect.NewRequest(edit))
			if err != nil || res.Msg.GetMessage().GetText() != "hello" || res.Msg.GetMessage().GetEditTime() == nil {
				t.Fatalf("EditMessage: %v %v", res, err)
			}
			if _, err := alice.Messages.EditMessage(ctx, connect.NewRequest(edit)); err != nil {
				t.Fatalf("retried EditMessage: %v", err)
			}
			for _, tc := range []struct {
				name string
				user *testserver.User
				req  *parleyv1.EditMessageRequest
				want connect.Code
			}{
				{"someone else's", bob, edit, connect.CodePermissionDenied},
				{"empty", alice, &parleyv1.EditMessageRequest{RoomId: room.GetId(), Seq: m1.GetSeq(), Text: " "}, connect.CodeInvalidArgument},
				{"unknown seq", alice, &parleyv1.EditMessageRequest{RoomId: room.GetId(), Seq: 999, Text: "x"}, connect.CodeNotFound},
			} {
				if _, err := tc.user.Messages.EditMessage(ctx, connect.NewRequest(tc.req)); connect.CodeOf(err) != tc.want {
					t.Errorf("edit %s: %v, want %v", tc.name, err, tc.want)
				}
			}
			if _, err := carol.Messages.DeleteMessage(ctx, connect.NewRequest(&parleyv1.DeleteMessageRequest{RoomId: room.GetId(), Seq: m2.GetSeq()})); connect.CodeOf(err) != connect.CodePermissionDenied {
				t.Errorf("delete by neither sender nor creator: %v, want permission_denied", err)
			}
			del := &parleyv1.DeleteMessageRequest{RoomId: room.GetId(), Seq: m2.GetSeq()}
			for range 2 { // the room's creator deletes bob's message; the retry stores nothing
				dres, err := alice.Messages.DeleteMessage(ctx, connect.NewRequest(del))
				if err != nil || dres.Msg.GetMessage().GetDeleteTime() == nil || dres.Msg.GetMessage().GetText() != "" {
					t.Fatalf("DeleteMessage: %v %v", dres, err)
				}
			}
			if _, err := bob.Messages.EditMessage(ctx, connect.NewRequest(&parleyv1.EditMessageRequest{RoomId: room.GetId(), Seq: m2.GetSeq(), Text: "back"})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
				t.Errorf("edit of a deleted message: %v, want failed_precondition", err)
			}

			// bob's and carol's joins are the log's first events.
			want := []testserver.LogEntry{{Kind: "joined bob" + id, Seq: 1}, {Kind: "joined carol" + id, Seq: 2},
				{Kind: "message", Seq: 3, About: 3}, {Kind: "message", Seq: 4, About: 4},
				{Kind: "edited", Seq: 5, About: 3}, {Kind: "deleted", Seq: 6, About: 4}}
			if got := receiveLog(t, live, len(want)); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("live: %v, want %v", got, want)
			}
			replay, err := bob.Messages.Subscribe(ctx, connect.NewRequest(&parleyv1.SubscribeRequest{RoomId: room.GetId()}))
			if err != nil {
				t.Fatal(err)
			}
			defer replay.Close()
			if got := receiveLog(t, replay, len(want)); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("replay: %v, want %v", got, want)
			}

			hist, err := bob.Messages.ListMessages(ctx, connect.NewRequest(&parleyv1.ListMessagesRequest{RoomId: room.GetId()}))
			if err != nil {
				t.Fatal(err)
			}
			msgs := hist.Msg.GetMessages()
			if hist.Msg.GetHeadSeq() != 6 || len(msgs) != 2 || msgs[0].GetText() != "hello" || msgs[0].GetEditTime() == nil ||
				msgs[1].GetText() != "" || msgs[1].GetDeleteTime() == nil {
				t.Fatalf("ListMessages: head %d, %v", hist.Msg.GetHeadSeq(), msgs)
			}

			unread := func(u *testserver.User) int64 {
				t.Helper()
				res, err := u.Rooms.GetRoom(ctx, connect.NewRequest(&parleyv1.GetRoomRequest{RoomId: room.GetId()}))
				if err != nil {
					t.Fatal(err)
				}
				return res.Msg.GetRoom().GetUnreadCount()
			}
			if n := unread(carol); n != 1 { // alice's edited message; bob's is deleted
				t.Errorf("carol's unread count %d, want 1", n)
			}
			if n := unread(alice); n != 0 { // her own messages do not count
				t.Errorf("alice's unread count %d, want 0", n)
			}
			for _, seq := range []int64{6, 1} { // monotonic: the lower seq changes nothing
				mres, err := carol.Messages.MarkRead(ctx, connect.NewRequest(&parleyv1.MarkReadRequest{RoomId: room.GetId(), Seq: seq}))
				if err != nil || mres.Msg.GetReadSeq() != 6 {
					t.Fatalf("MarkRead(%d): %v %v, want read_seq 6", seq, mres, err)
				}
			}
			if n := unread(carol); n != 0 {
				t.Errorf("carol's unread count after MarkRead %d, want 0", n)
			}
			list, err := carol.Rooms.ListRooms(ctx, connect.NewRequest(&parleyv1.ListRoomsRequest{}))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range list.Msg.GetRooms() {
				if r.GetId() == room.GetId() && (r.GetReadSeq() != 6 || r.GetUnreadCount() != 0) {
					t.Errorf("ListRooms: %v, want read_seq 6 and nothing unread", r)
				}
			}
			// The marker reaches carol's own stream live, and nobody else's.
			for live.Receive() {
				if m := live.Msg().GetReadMarker(); m != nil {
					if m.GetReadSeq() != 6 || m.GetRoomId() != room.GetId() {
						t.Errorf("carol's read marker %v, want 6", m)
					}
					break
				}
				if e, ok := testserver.EntryOf(live.Msg()); ok {
					t.Fatalf("carol's stream: %v before her read marker", e)
				}
			}
			alice.SendMessage(t, room.GetId(), "after", "c3")
			got := replay.Receive()
			for got && replay.Msg().GetHeartbeat() != nil {
				got = replay.Receive()
			}
			if !got {
				t.Fatalf("bob's stream ended: %v", replay.Err())
			}
			if m := replay.Msg().GetMessage(); m.GetSeq() != 7 {
				t.Errorf("bob's next event %v, want message 7 (carol's read marker is hers)", replay.Msg())
			}
		})
	}
}

// TestEditWindow edits within and past the window set by WithEditWindow.
func TestEditWindow(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(time.Now().UnixNano()) // the store stamps messages with the real clock
	srv := testserver.Start(t, server.WithEditWindow(time.Hour), server.WithNow(func() time.Time { return time.Unix(0, now.Load()) }))
	c := srv.Client(t, "connect/proto/h2c")
	alice := testserver.SignUp(t, c, "alice")
	room := alice.CreateRoom(t, "window", parleyv1.Visibility_VISIBILITY_PUBLIC)
	m := alice.SendMessage(t, room.GetId(), "first", "c1")
	edit := func(text string) error {
		_, err := alice.Messages.EditMessage(t.Context(), connect.NewRequest(&parleyv1.EditMessageRequest{RoomId: room.GetId(), Seq: m.GetSeq(), Text: text}))
		return err
	}
	now.Add(int64(59 * time.Minute))
	if err := edit("second"); err != nil {
		t.Fatalf("edit within the window: %v", err)
	}
	now.Add(int64(2 * time.Minute))
	if err := edit("third"); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("edit past the window: %v, want failed_precondition", err)
	}
}

// TestChatReplaysEditsAndDeletions joins a room on a Chat stream after a
// message was edited, another deleted and a member joined: the join
// replays the changes in seq order, and a later edit arrives live.
func TestChatReplaysEditsAndDeletions(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	c := srv.Client(t, "grpc/proto/h2c")
	alice := testserver.SignUp(t, c, "alice")
	room := alice.CreateRoom(t, "chat-edits", parleyv1.Visibility_VISIBILITY_PUBLIC)
	m1 := alice.SendMessage(t, room.GetId(), "one", "c1")
	m2 := alice.SendMessage(t, room.GetId(), "two", "c2")
	ctx, cancel := context.WithTimeout(t.Context(), testserver.CallTimeout)
	defer cancel()
	if _, err := alice.Messages.EditMessage(ctx, connect.NewRequest(&parleyv1.EditMessageRequest{RoomId: room.GetId(), Seq: m1.GetSeq(), Text: "uno"})); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Messages.DeleteMessage(ctx, connect.NewRequest(&parleyv1.DeleteMessageRequest{RoomId: room.GetId(), Seq: m2.GetSeq()})); err != nil {
		t.Fatal(err)
	}
	testserver.SignUp(t, c, "bob").JoinRoom(t, room.GetId())
	stream := alice.Messages.Chat(ctx)
	defer func() { _ = stream.CloseRequest() }()
	if err := stream.Send(&parleyv1.ChatRequest{FrameId: "j", Frame: &parleyv1.ChatRequest_Join{Join: &parleyv1.ChatJoin{RoomId: room.GetId()}}}); err != nil {
		t.Fatal(err)
	}
	var got []testserver.LogEntry
	for len(got) < 6 {
		res, err := stream.Receive()
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		switch f := res.GetFrame().(type) {
		case *parleyv1.ChatResponse_Message:
			got = append(got, testserver.LogEntry{Kind: "message", Seq: f.Message.GetSeq(), About: f.Message.GetSeq()})
		case *parleyv1.ChatResponse_MessageEdited:
			got = append(got, testserver.LogEntry{Kind: "edited", Seq: f.MessageEdited.GetSeq(), About: f.MessageEdited.GetMessage().GetSeq()})
		case *parleyv1.ChatResponse_MessageDeleted:
			got = append(got, testserver.LogEntry{Kind: "deleted", Seq: f.MessageDeleted.GetSeq(), About: f.MessageDeleted.GetMessage().GetSeq()})
		case *parleyv1.ChatResponse_MemberJoined:
			got = append(got, testserver.LogEntry{Kind: "joined " + f.MemberJoined.GetUser().GetUsername(), Seq: f.MemberJoined.GetSeq()})
		case *parleyv1.ChatResponse_Ack:
			if _, err := alice.Messages.EditMessage(ctx, connect.NewRequest(&parleyv1.EditMessageRequest{RoomId: room.GetId(), Seq: m1.GetSeq(), Text: "eins"})); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := []testserver.LogEntry{{Kind: "message", Seq: 1, About: 1}, {Kind: "message", Seq: 2, About: 2},
		{Kind: "edited", Seq: 3, About: 1}, {Kind: "deleted", Seq: 4, About: 2}, {Kind: "joined bob", Seq: 5}, {Kind: "edited", Seq: 6, About: 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Chat: %v, want %v", got, want)
	}
}
