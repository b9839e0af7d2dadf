package sqlite_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/sqlite"
)

// TestGroupCommitPublishesInSeqOrder sends concurrently to two rooms,
// mixed with retries and sends to a missing room that fail inside the
// same batches. Every new message is published exactly once, before its
// AppendMessage returns, each room in seq order; failures publish nothing
// and do not disturb the others.
func TestGroupCommitPublishesInSeqOrder(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "parley.db"))
	alice, rooms := aliceIn(t, s, parley.Public, "one", "two")

	var (
		mu        sync.Mutex
		published = map[string][]int64{}
	)
	publish := func(m *parley.Message) {
		mu.Lock()
		defer mu.Unlock()
		published[m.RoomID] = append(published[m.RoomID], m.Seq)
	}
	const senders, sends = 16, 40
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			room := rooms[g%2]
			for i := range sends {
				m := parley.NewMessage{RoomID: room.ID, SenderID: alice.ID, Text: "hi", ClientMessageID: fmt.Sprintf("c-%d-%d", g, i)}
				msg, created, err := s.AppendMessage(ctx, m, publish)
				if err != nil || !created {
					t.Errorf("AppendMessage: created %v, %v", created, err)
					return
				}
				mu.Lock()
				seen := published[room.ID]
				mu.Unlock()
				if !slices.Contains(seen, msg.Seq) {
					t.Errorf("seq %d returned before it was published", msg.Seq)
				}
				if _, created, err := s.AppendMessage(ctx, m, publish); err != nil || created {
					t.Errorf("retry: created %v, %v; want the original", created, err)
				}
				missing := parley.NewMessage{RoomID: "r_missing", SenderID: alice.ID, Text: "x", ClientMessageID: fmt.Sprintf("m-%d-%d", g, i)}
				if _, _, err := s.AppendMessage(ctx, missing, publish); parley.ErrorCodeOf(err) != parley.ENOTFOUND {
					t.Errorf("append to a missing room: %v; want ENOTFOUND", err)
				}
			}
		})
	}
	wg.Wait()

	for _, r := range rooms {
		got := published[r.ID]
		if len(got) != senders/2*sends {
			t.Errorf("room %s: %d publishes, want %d", r.Name, len(got), senders/2*sends)
		}
		for i, seq := range got {
			if seq != int64(i+1) {
				t.Fatalf("room %s: publish %d has seq %d; want seqs 1.. in order: %v", r.Name, i, seq, got)
			}
		}
	}
	if n := len(published["r_missing"]); n != 0 {
		t.Errorf("%d publishes for the missing room", n)
	}
}

// TestAppendAfterCloseFails: an append made after Close returns an error
// at once instead of waiting for a committer that is gone.
func TestAppendAfterCloseFails(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "parley.db"))
	alice, rooms := aliceIn(t, s, parley.Public, "one")
	room := rooms[0]
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.AppendMessage(ctx, parley.NewMessage{RoomID: room.ID, SenderID: alice.ID, Text: "late", ClientMessageID: "c1"}, nil)
	if err == nil {
		t.Fatal("AppendMessage after Close succeeded")
	}
}

// TestAppendsFromTwoStoresOnOneFile: two Stores on one file (as two
// processes would be) take turns appending to a room and logging member
// changes in it. Each Store's committer keeps the room's head in memory;
// a head the other wrote must not make it reuse or skip a seq.
func TestAppendsFromTwoStoresOnOneFile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "parley.db")
	a := open(t, path)
	b := open(t, path)
	alice, rooms := aliceIn(t, a, parley.Public, "shared")
	room := rooms[0]
	bob, err := b.CreateUser(ctx, "bob", []byte("hash"))
	if err != nil {
		t.Fatal(err)
	}
	want := room.HeadSeq
	for i := range 6 {
		for j, s := range []*sqlite.Store{a, b, b, a} {
			m := parley.NewMessage{RoomID: room.ID, SenderID: alice.ID, Sender: alice, Text: "hi", ClientMessageID: fmt.Sprintf("c-%d-%d", i, j)}
			msg, created, err := s.AppendMessage(ctx, m, nil)
			if want++; err != nil || !created || msg.Seq != want {
				t.Fatalf("append %d.%d: seq %d, created %v, %v; want seq %d", i, j, msg.Seq, created, err, want)
			}
		}
		if i%2 == 0 {
			_, err = b.AddMember(ctx, room.ID, bob.ID, bob.ID, nil)
		} else {
			err = a.RemoveMember(ctx, room.ID, bob.ID, bob.ID, nil)
		}
		if want++; err != nil {
			t.Fatalf("member change %d: %v", i, err)
		}
	}
	logHasNoGap(t, b, room, want)
}

// TestAppendsWithEditsAndMemberChanges: sends to a room go through the
// committer, with its heads in memory, while edits and member changes of
// the same room take seqs outside it. Every change gets its own seq and
// the room's log has no gap.
func TestAppendsWithEditsAndMemberChanges(t *testing.T) {
	t.Parallel()
	s := open(t, filepath.Join(t.TempDir(), "parley.db"))
	alice, rooms := aliceIn(t, s, parley.Public, "busy")
	room, ctx := rooms[0], t.Context()
	bob, err := s.CreateUser(ctx, "bob", []byte("hash"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, err := s.AppendMessage(ctx, parley.NewMessage{RoomID: room.ID, SenderID: alice.ID, Sender: alice, Text: "first", ClientMessageID: "first"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const senders, sends, changes = 8, 30, 40
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range sends {
				m := parley.NewMessage{RoomID: room.ID, SenderID: alice.ID, Sender: alice, Text: "hi", ClientMessageID: fmt.Sprintf("c-%d-%d", g, i)}
				if _, created, err := s.AppendMessage(ctx, m, nil); err != nil || !created {
					t.Errorf("AppendMessage: created %v, %v", created, err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range changes {
			var err error
			switch i % 3 {
			case 0:
				_, _, err = s.EditMessage(ctx, parley.MessageEdit{RoomID: room.ID, Seq: first.Seq, EditorID: alice.ID, Text: fmt.Sprint("edit ", i)}, nil)
			case 1:
				_, err = s.AddMember(ctx, room.ID, bob.ID, bob.ID, nil)
			case 2:
				err = s.RemoveMember(ctx, room.ID, bob.ID, bob.ID, nil)
			}
			if err != nil {
				t.Errorf("change %d: %v", i, err)
				return
			}
		}
	})
	wg.Wait()
	want := first.Seq + senders*sends + changes
	logHasNoGap(t, s, room, want)
}

// logHasNoGap checks that the room's log holds one event for each seq
// after the room's creation up to head, and head is the room's head.
func logHasNoGap(t *testing.T, s *sqlite.Store, room parley.Room, head int64) {
	t.Helper()
	events, got, err := s.ListEvents(t.Context(), room.ID, room.HeadSeq, 1000)
	if err != nil || got != head || len(events) != int(head-room.HeadSeq) {
		t.Fatalf("ListEvents: %d events, head %d, %v; want head %d", len(events), got, err, head)
	}
	for i, ev := range events {
		if ev.Seq != room.HeadSeq+int64(i+1) {
			t.Fatalf("event %d has seq %d", i, ev.Seq)
		}
	}
}
