package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/parley-chat/parley"
)

// listEvents reads a room's whole log or fails the test.
func listEvents(t *testing.T, s parley.Store, roomID string) ([]*parley.Event, int64) {
	t.Helper()
	events, head, err := s.ListEvents(t.Context(), roomID, 0, parley.MaxHistoryLimit)
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	return events, head
}

func kindsOf(events []*parley.Event) []parley.EventKind {
	out := make([]parley.EventKind, len(events))
	for i, e := range events {
		out[i] = e.Kind
	}
	return out
}

func logSeqs(events []*parley.Event) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.Seq
	}
	return out
}

var logTests = []storeTest{
	{"SeqsContiguousAcrossKinds", func(t *testing.T, s parley.Store) {
		alice := CreateUser(t, s, "alice")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		var published []*parley.Event
		publish := func(e *parley.Event) { published = append(published, e) }
		msgs := appendTexts(t, s, r, alice, 2)                                                                                                                                     // seqs 1, 2
		if _, created, err := s.EditMessage(t.Context(), parley.MessageEdit{RoomID: r.ID, Seq: msgs[0].Seq, EditorID: alice.ID, Text: "fixed"}, publish); err != nil || !created { // 3
			t.Fatalf("EditMessage: %v (created %v)", err, created)
		}
		m3, _, err := s.AppendMessage(t.Context(), parley.NewMessage{RoomID: r.ID, SenderID: alice.ID, Text: "third", ClientMessageID: "c3"}, nil) // 4
		if err != nil || m3.Seq != 4 {
			t.Fatalf("AppendMessage after an edit: seq %d (%v), want 4", m3.Seq, err)
		}
		if _, created, err := s.DeleteMessage(t.Context(), r.ID, msgs[1].Seq, alice.ID, publish); err != nil || !created { // 5
			t.Fatalf("DeleteMessage: %v (created %v)", err, created)
		}
		events, head := listEvents(t, s, r.ID)
		WantSeqs(t, logSeqs(events), 1, 5)
		if head != 5 {
			t.Errorf("head %d, want 5", head)
		}
		want := []parley.EventKind{parley.EventMessage, parley.EventMessage, parley.EventMessageEdited,
			parley.EventMessage, parley.EventMessageDeleted}
		if got := kindsOf(events); !slices.Equal(got, want) {
			t.Fatalf("kinds %v, want %v", got, want)
		}
		if got := logSeqs(published); !slices.Equal(got, []int64{3, 5}) {
			t.Errorf("published seqs %v, want 3 and 5", got)
		}
		if e := events[2]; e.Message == nil || e.Message.Seq != msgs[0].Seq || e.Message.Text != "fixed" || e.Message.EditTime.IsZero() || e.Actor.ID != alice.ID {
			t.Errorf("edit event %+v, want message %d with the new text, by alice", e.Message, msgs[0].Seq)
		}
		if e := events[4]; e.Message == nil || e.Message.Seq != msgs[1].Seq || !e.Message.Deleted() || e.Message.Text != "" {
			t.Errorf("delete event %+v, want the tombstone of %d", e.Message, msgs[1].Seq)
		}
		if r2, err := s.RoomByID(t.Context(), r.ID); err != nil || r2.HeadSeq != 5 {
			t.Errorf("RoomByID head %d (%v), want 5", r2.HeadSeq, err)
		}
	}},
	{"MemberChangesAreLoggedAndReplay", func(t *testing.T, s parley.Store) {
		alice, bob := CreateUser(t, s, "alice"), CreateUser(t, s, "bob")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		var published []*parley.Event
		publish := func(e *parley.Event) { published = append(published, e) }
		steps := []func() error{
			func() error { _, err := s.AddMember(t.Context(), r.ID, bob.ID, bob.ID, publish); return err },
			func() error { return s.RemoveMember(t.Context(), r.ID, bob.ID, alice.ID, publish) },
			func() error { _, err := s.AddMember(t.Context(), r.ID, bob.ID, alice.ID, publish); return err },
			func() error { return s.RemoveMember(t.Context(), r.ID, bob.ID, bob.ID, publish) },
		}
		for i, step := range steps {
			if err := step(); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
		want := []parley.EventKind{parley.EventMemberJoined, parley.EventMemberRemoved, parley.EventMemberAdded, parley.EventMemberLeft}
		if got := kindsOf(published); !slices.Equal(got, want) {
			t.Fatalf("published kinds %v, want %v", got, want)
		}
		for i, e := range published {
			wantActor := bob.ID
			if e.Kind == parley.EventMemberRemoved || e.Kind == parley.EventMemberAdded {
				wantActor = alice.ID
			}
			if e.RoomID != r.ID || e.User.ID != bob.ID || e.Actor.ID != wantActor || e.Time.IsZero() {
				t.Errorf("event %d: %+v; want bob, by %s", i, e, wantActor)
			}
		}
		if err := s.RemoveMember(t.Context(), r.ID, bob.ID, bob.ID, publish); parley.ErrorCodeOf(err) != parley.ENOTFOUND || len(published) != 4 {
			t.Errorf("removing a non-member: %v, %d published; want ENOTFOUND and nothing published", err, len(published))
		}
		if _, err := s.AddMember(t.Context(), r.ID, alice.ID, alice.ID, publish); parley.ErrorCodeOf(err) != parley.ECONFLICT || len(published) != 4 {
			t.Errorf("adding a member again: %v, %d published; want ECONFLICT and nothing published", err, len(published))
		}
		// Each change took the room's next seq, and the log replays them
		// as they were published; a failed change took none.
		WantSeqs(t, logSeqs(published), 1, 4)
		events, head := listEvents(t, s, r.ID)
		if head != 4 || len(events) != len(published) {
			t.Fatalf("ListEvents: %d events, head %d; want the 4 member changes", len(events), head)
		}
		for i, e := range events {
			p := published[i]
			if e.Seq != p.Seq || e.Kind != p.Kind || e.RoomID != r.ID || !sameUser(e.User, p.User) || !sameUser(e.Actor, p.Actor) || !e.Time.Equal(p.Time) || e.Message != nil {
				t.Errorf("replayed %+v, published %+v", e, p)
			}
		}
		if later, _, err := s.ListEvents(t.Context(), r.ID, 2, 10); err != nil || !slices.Equal(kindsOf(later), want[2:]) {
			t.Errorf("ListEvents after 2: %v (%v), want %v", kindsOf(later), err, want[2:])
		}
	}},
	{"SeqsContiguousAcrossMessagesAndMembers", func(t *testing.T, s parley.Store) {
		alice, bob, carol := CreateUser(t, s, "alice"), CreateUser(t, s, "bob"), CreateUser(t, s, "carol")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		var published []*parley.Event
		publish := func(e *parley.Event) { published = append(published, e) }
		publishMessage := func(m *parley.Message) {
			published = append(published, &parley.Event{Kind: parley.EventMessage, Seq: m.Seq})
		}
		send := func(from parley.User, id string) parley.Message {
			m, _, err := s.AppendMessage(t.Context(), parley.NewMessage{RoomID: r.ID, SenderID: from.ID, Text: "hi " + id, ClientMessageID: id}, publishMessage)
			if err != nil {
				t.Fatalf("AppendMessage: %v", err)
			}
			return m
		}
		m1 := send(alice, "a1") // 1: the creator's membership is not an event
		if m1.Seq != 1 {
			t.Fatalf("first message of a room nobody joined has seq %d, want 1", m1.Seq)
		}
		steps := []func() error{
			func() error { _, err := s.AddMember(t.Context(), r.ID, bob.ID, bob.ID, publish); return err },   // 2
			func() error { send(bob, "b1"); return nil },                                                     // 3
			func() error { _, err := s.AddMember(t.Context(), r.ID, carol.ID, bob.ID, publish); return err }, // 4
			func() error { // 5
				_, _, err := s.EditMessage(t.Context(), parley.MessageEdit{RoomID: r.ID, Seq: m1.Seq, EditorID: alice.ID, Text: "edited"}, publish)
				return err
			},
			func() error { return s.RemoveMember(t.Context(), r.ID, carol.ID, alice.ID, publish) },                  // 6
			func() error { _, _, err := s.DeleteMessage(t.Context(), r.ID, m1.Seq, alice.ID, publish); return err }, // 7
			func() error { return s.RemoveMember(t.Context(), r.ID, bob.ID, bob.ID, publish) },                      // 8
			func() error { send(alice, "a2"); return nil },                                                          // 9
		}
		for i, step := range steps {
			if err := step(); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
		events, head := listEvents(t, s, r.ID)
		WantSeqs(t, logSeqs(events), 1, 9)
		if head != 9 {
			t.Errorf("head %d, want 9", head)
		}
		want := []parley.EventKind{parley.EventMessage, parley.EventMemberJoined, parley.EventMessage, parley.EventMemberAdded,
			parley.EventMessageEdited, parley.EventMemberRemoved, parley.EventMessageDeleted, parley.EventMemberLeft, parley.EventMessage}
		if got := kindsOf(events); !slices.Equal(got, want) {
			t.Fatalf("kinds %v, want %v", got, want)
		}
		if !slices.Equal(logSeqs(published), logSeqs(events)) {
			t.Errorf("published seqs %v, want 1..9 as logged", logSeqs(published))
		}
		msgs, _, err := s.ListMessages(t.Context(), r.ID, parley.HistoryQuery{})
		if err != nil || len(msgs) != 3 || msgs[0].Seq != 1 || msgs[1].Seq != 3 || msgs[2].Seq != 9 || !msgs[0].Deleted() {
			t.Errorf("ListMessages %+v (%v); want messages 1 (deleted), 3 and 9", msgs, err)
		}
	}},
	{"EditAndDeleteAreOneEventEach", func(t *testing.T, s parley.Store) {
		alice := CreateUser(t, s, "alice")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		m := appendTexts(t, s, r, alice, 1)[0]
		edit := parley.MessageEdit{RoomID: r.ID, Seq: m.Seq, EditorID: alice.ID, Text: "second"}
		ev, created, err := s.EditMessage(t.Context(), edit, nil)
		if err != nil || !created || ev.Seq != 2 || ev.Message.Seq != m.Seq {
			t.Fatalf("EditMessage: %+v created %v err %v; want seq 2 about message 1", ev, created, err)
		}
		if _, created, err := s.EditMessage(t.Context(), edit, nil); err != nil || created {
			t.Fatalf("retried edit: created %v err %v; want nothing new", created, err)
		}
		if _, created, err := s.DeleteMessage(t.Context(), r.ID, m.Seq, alice.ID, nil); err != nil || !created {
			t.Fatalf("DeleteMessage: created %v err %v", created, err)
		}
		if _, created, err := s.DeleteMessage(t.Context(), r.ID, m.Seq, alice.ID, nil); err != nil || created {
			t.Fatalf("retried delete: created %v err %v; want nothing new", created, err)
		}
		_, _, err = s.EditMessage(t.Context(), parley.MessageEdit{RoomID: r.ID, Seq: m.Seq, EditorID: alice.ID, Text: "again"}, nil)
		wantCode(t, err, parley.EPRECONDITION)
		events, head := listEvents(t, s, r.ID)
		WantSeqs(t, logSeqs(events), 1, 3)
		if head != 3 {
			t.Fatalf("head %d, want 3: a retry must not take a seq", head)
		}
		for _, e := range events {
			if e.Message == nil || strings.Contains(e.Message.Text, "message") || strings.Contains(e.Message.Text, "second") {
				t.Errorf("event %d still carries text %q after the delete", e.Seq, e.Message.Text)
			}
		}
		msgs, _, err := s.ListMessages(t.Context(), r.ID, parley.HistoryQuery{})
		if err != nil || len(msgs) != 1 || !msgs[0].Deleted() || msgs[0].Text != "" || msgs[0].EditTime.IsZero() {
			t.Fatalf("ListMessages %+v (%v); want one tombstone", msgs, err)
		}
	}},
	{"EditErrors", func(t *testing.T, s parley.Store) {
		alice := CreateUser(t, s, "alice")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		m := appendTexts(t, s, r, alice, 1)[0]
		_, _, err := s.EditMessage(t.Context(), parley.MessageEdit{RoomID: r.ID, Seq: 99, EditorID: alice.ID, Text: "x"}, nil)
		wantCode(t, err, parley.ENOTFOUND)
		_, _, err = s.DeleteMessage(t.Context(), r.ID, 99, alice.ID, nil)
		wantCode(t, err, parley.ENOTFOUND)
		_, err = s.MessageBySeq(t.Context(), r.ID, 99)
		wantCode(t, err, parley.ENOTFOUND)
		got, err := s.MessageBySeq(t.Context(), r.ID, m.Seq)
		if err != nil || !sameMessage(got, m) {
			t.Fatalf("MessageBySeq: %+v (%v), want %+v", got, err, m)
		}
		_, _, err = s.ListEvents(t.Context(), "r_missing", 0, 10)
		wantCode(t, err, parley.ENOTFOUND)
	}},
	{"ListEventsPages", func(t *testing.T, s parley.Store) {
		alice := CreateUser(t, s, "alice")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		appendTexts(t, s, r, alice, 5)
		events, head, err := s.ListEvents(t.Context(), r.ID, 2, 2)
		if err != nil || head != 5 {
			t.Fatalf("ListEvents: head %d, %v", head, err)
		}
		WantSeqs(t, logSeqs(events), 3, 4)
	}},
	{"ReadMarkersMonotonicAndUnreadCounts", func(t *testing.T, s parley.Store) {
		alice, bob := CreateUser(t, s, "alice"), CreateUser(t, s, "bob")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		if _, err := s.AddMember(t.Context(), r.ID, bob.ID, bob.ID, nil); err != nil {
			t.Fatalf("AddMember: %v", err)
		}
		msgs := appendTexts(t, s, r, alice, 4) // 1..4
		appendTexts(t, s, CreateRoom(t, s, "other", parley.Public, bob), bob, 1)
		if _, _, err := s.AppendMessage(t.Context(), parley.NewMessage{RoomID: r.ID, SenderID: bob.ID, Text: "mine", ClientMessageID: "b1"}, nil); err != nil { // 5
			t.Fatalf("AppendMessage: %v", err)
		}
		states, err := s.ReadStates(t.Context(), bob.ID, []string{r.ID, "r_missing"})
		if err != nil || len(states) != 1 || states[r.ID] != (parley.ReadState{ReadSeq: 0, Unread: 4}) {
			t.Fatalf("ReadStates %+v (%v), want 4 unread (not bob's own)", states, err)
		}
		if got, err := s.MarkRead(t.Context(), r.ID, bob.ID, msgs[1].Seq); err != nil || got != msgs[1].Seq {
			t.Fatalf("MarkRead: %d (%v)", got, err)
		}
		if got, err := s.MarkRead(t.Context(), r.ID, bob.ID, 1); err != nil || got != msgs[1].Seq {
			t.Fatalf("MarkRead lower: %d (%v), want the marker unchanged at %d", got, err, msgs[1].Seq)
		}
		if _, _, err := s.DeleteMessage(t.Context(), r.ID, msgs[3].Seq, alice.ID, nil); err != nil {
			t.Fatalf("DeleteMessage: %v", err)
		}
		states, err = s.ReadStates(t.Context(), bob.ID, []string{r.ID})
		if err != nil || states[r.ID] != (parley.ReadState{ReadSeq: msgs[1].Seq, Unread: 1}) {
			t.Fatalf("ReadStates %+v (%v), want marker %d and 1 unread (a deleted one does not count)", states, err, msgs[1].Seq)
		}
		_, err = s.MarkRead(t.Context(), "r_missing", bob.ID, 1)
		wantCode(t, err, parley.ENOTFOUND)
	}},
}

// WantMigratedLog checks a room an engine's migration to the room log has
// carried over: its n messages are there in seq order, message i (from 1)
// with id idPrefix+i and text "text i", neither edited nor deleted, each as
// its own EventMessage at its seq, by its sender; the head is n. It is for
// the engines' tests of their migrations, whose fixtures fill rooms so.
func WantMigratedLog(t *testing.T, s parley.Store, roomID, idPrefix string, n int) {
	t.Helper()
	ctx := t.Context()
	msgs, head, err := s.ListMessages(ctx, roomID, parley.HistoryQuery{Limit: parley.MaxHistoryLimit})
	if err != nil || head != int64(n) || len(msgs) != n {
		t.Fatalf("ListMessages: %d messages, head %d, %v; want %d and %d", len(msgs), head, err, n, n)
	}
	for i, m := range msgs {
		if m.Seq != int64(i+1) || m.Text != fmt.Sprintf("text %d", i+1) || m.ID != fmt.Sprintf("%s%d", idPrefix, i+1) || !m.EditTime.IsZero() || m.Deleted() {
			t.Fatalf("message %d after migration: %+v", i+1, m)
		}
	}
	events, head, err := s.ListEvents(ctx, roomID, 0, parley.MaxHistoryLimit)
	if err != nil || head != int64(n) || len(events) != n {
		t.Fatalf("ListEvents: %d events, head %d, %v", len(events), head, err)
	}
	for i, e := range events {
		if e.Kind != parley.EventMessage || e.Seq != int64(i+1) || e.Message.Seq != e.Seq || e.User.ID != e.Message.Sender.ID {
			t.Fatalf("event %d after migration: %+v", i+1, e)
		}
	}
}
