package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

// appendTexts appends n messages from sender to r, each with its own client
// message id, or fails the test.
func appendTexts(t *testing.T, s parley.Store, r parley.Room, sender parley.User, n int) []parley.Message {
	t.Helper()
	var msgs []parley.Message
	for i := range n {
		m, created, err := s.AppendMessage(t.Context(), parley.NewMessage{
			RoomID:          r.ID,
			SenderID:        sender.ID,
			Text:            fmt.Sprintf("message %d", i+1),
			ClientMessageID: fmt.Sprintf("%s/%d", r.ID, i+1),
		}, nil)
		if err != nil || !created {
			t.Fatalf("AppendMessage: %v (created %v)", err, created)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// wantOneMessage returns the one message of a room, whose head is 1, or
// fails the test saying when.
func wantOneMessage(t *testing.T, s parley.Store, roomID, when string) parley.Message {
	t.Helper()
	msgs, head, err := s.ListMessages(t.Context(), roomID, parley.HistoryQuery{Limit: parley.MaxHistoryLimit})
	if err != nil {
		t.Fatalf("ListMessages: %v", err)
	}
	if head != 1 || len(msgs) != 1 {
		t.Fatalf("%s: %d messages, head %d; want 1, 1", when, len(msgs), head)
	}
	return msgs[0]
}

// seqs returns the seqs of msgs.
func seqs(msgs []parley.Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Seq
	}
	return out
}

// seqRange returns from, from+1, ..., to; nil when to < from.
func seqRange(from, to int64) []int64 {
	var out []int64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

var messageTests = []storeTest{
	{"AppendPublishesNewMessagesBeforeReturning", func(t *testing.T, s parley.Store) {
		alice := CreateUser(t, s, "alice")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		var published []parley.Message
		publish := func(m *parley.Message) { published = append(published, *m) }
		m := parley.NewMessage{RoomID: r.ID, SenderID: alice.ID, Text: "hi", ClientMessageID: "c1"}
		first, created, err := s.AppendMessage(t.Context(), m, publish)
		if err != nil || !created {
			t.Fatalf("AppendMessage: %v (created %v)", err, created)
		}
		if len(published) != 1 || published[0].ID != first.ID || published[0].Seq != 1 {
			t.Fatalf("published %+v before returning; want the new message", published)
		}
		if _, created, err := s.AppendMessage(t.Context(), m, publish); err != nil || created {
			t.Fatalf("retry: %v (created %v)", err, created)
		}
		missing := parley.NewMessage{RoomID: "r_missing", SenderID: alice.ID, Text: "x", ClientMessageID: "c2"}
		if _, _, err := s.AppendMessage(t.Context(), missing, publish); parley.ErrorCodeOf(err) != parley.ENOTFOUND {
			t.Fatalf("append to a missing room: %v; want ENOTFOUND", err)
		}
		if len(published) != 1 {
			t.Fatalf("%d publishes; a retry or a failed append must not publish", len(published))
		}
	}},
	{"AppendOK", func(t *testing.T, s parley.Store) {
		alice := CreateUser(t, s, "alice")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		m, created, err := s.AppendMessage(t.Context(), parley.NewMessage{
			RoomID: r.ID, SenderID: alice.ID, Text: "héllo, 世界", ClientMessageID: "c1",
		}, nil)
		if err != nil {
			t.Fatalf("AppendMessage: %v", err)
		}
		if !created || m.ID == "" || m.RoomID != r.ID || m.Seq != 1 || !sameUser(m.Sender, alice) ||
			m.Text != "héllo, 世界" || m.ClientMessageID != "c1" || m.CreateTime.IsZero() {
			t.Fatalf("AppendMessage = %+v, created %v", m, created)
		}
		if got := wantOneMessage(t, s, r.ID, "ListMessages"); !sameMessage(got, m) {
			t.Errorf("ListMessages = [%+v]; want [%+v]", got, m)
		}
	}},
	{"SeqsContiguousPerRoom", func(t *testing.T, s parley.Store) {
		alice, bob := CreateUser(t, s, "alice"), CreateUser(t, s, "bob")
		a := CreateRoom(t, s, "a", parley.Public, alice)
		b := CreateRoom(t, s, "b", parley.Public, alice)
		got := map[string][]int64{}
		for i := range 9 {
			r, sender := a, alice
			if i%3 == 0 {
				r = b
			}
			if i%2 == 0 {
				sender = bob
			}
			m, _, err := s.AppendMessage(t.Context(), parley.NewMessage{
				RoomID: r.ID, SenderID: sender.ID, Text: "hi", ClientMessageID: fmt.Sprint(i),
			}, nil)
			if err != nil {
				t.Fatalf("AppendMessage: %v", err)
			}
			got[r.Name] = append(got[r.Name], m.Seq)
		}
		if !slices.Equal(got["a"], seqRange(1, 6)) || !slices.Equal(got["b"], seqRange(1, 3)) {
			t.Errorf("seqs = %v, want a: 1..6, b: 1..3", got)
		}
	}},
	{"RetryReturnsOriginal", func(t *testing.T, s parley.Store) {
		alice := CreateUser(t, s, "alice")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		first, created, err := s.AppendMessage(t.Context(), parley.NewMessage{
			RoomID: r.ID, SenderID: alice.ID, Text: "once", ClientMessageID: "c1",
		}, nil)
		if err != nil || !created {
			t.Fatalf("AppendMessage: %v (created %v)", err, created)
		}
		retry, created, err := s.AppendMessage(t.Context(), parley.NewMessage{
			RoomID: r.ID, SenderID: alice.ID, Text: "twice?", ClientMessageID: "c1",
		}, nil)
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		if created || !sameMessage(retry, first) {
			t.Errorf("retry = %+v, created %v; want the original %+v, created false", retry, created, first)
		}
		wantOneMessage(t, s, r.ID, "after a retry")
	}},
	{"AttachmentsKept", func(t *testing.T, s parley.Store) {
		// The store keeps the attachments it is given, as they are: files
		// never change, so a message shows them as they were when sent.
		alice := CreateUser(t, s, "alice")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		var files []parley.File
		for i := range parley.MaxAttachments {
			files = append(files, parley.File{
				ID: fmt.Sprintf("f_%d", i), RoomID: r.ID, Name: fmt.Sprintf("file %d.txt", i), ContentType: "text/plain",
				Size: int64(i + 1), SHA256: fmt.Sprintf("%064x", i), Uploader: alice, CreateTime: baseTime.Add(time.Duration(i) * time.Second),
			})
		}
		m := parley.NewMessage{RoomID: r.ID, SenderID: alice.ID, ClientMessageID: "c1", Attachments: files}
		sent, _, err := s.AppendMessage(t.Context(), m, nil)
		if err != nil {
			t.Fatalf("AppendMessage: %v", err)
		}
		if !sameFiles(sent.Attachments, files) {
			t.Fatalf("AppendMessage attachments = %+v, want %+v", sent.Attachments, files)
		}
		retry, created, err := s.AppendMessage(t.Context(), m, nil)
		if err != nil || created || !sameMessage(retry, sent) {
			t.Errorf("retry = %+v, created %v, %v; want the original with its attachments", retry, created, err)
		}
		msgs, _, err := s.ListMessages(t.Context(), r.ID, parley.HistoryQuery{})
		if err != nil || len(msgs) != 1 || !sameMessage(msgs[0], sent) {
			t.Errorf("ListMessages = %+v, %v; want [%+v]", msgs, err, sent)
		}
	}},
	{"ClientIDScopedToSender", func(t *testing.T, s parley.Store) {
		alice, bob := CreateUser(t, s, "alice"), CreateUser(t, s, "bob")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		for i, u := range []parley.User{alice, bob} {
			m, created, err := s.AppendMessage(t.Context(), parley.NewMessage{
				RoomID: r.ID, SenderID: u.ID, Text: "hi", ClientMessageID: "same",
			}, nil)
			if err != nil || !created || m.Seq != int64(i+1) {
				t.Errorf("AppendMessage by %s = seq %d, created %v, %v; want seq %d, created", u.Username, m.Seq, created, err, i+1)
			}
		}
	}},
	{"ConcurrentAppendsGetEverySeqOnce", func(t *testing.T, s parley.Store) {
		const writers, perWriter = 20, 25
		alice := CreateUser(t, s, "alice")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			seen = map[int64]int{}
		)
		for w := range writers {
			wg.Go(func() {
				for i := range perWriter {
					m, created, err := s.AppendMessage(t.Context(), parley.NewMessage{
						RoomID: r.ID, SenderID: alice.ID, Text: "hi", ClientMessageID: fmt.Sprintf("w%d-%d", w, i),
					}, nil)
					if err != nil || !created {
						t.Errorf("AppendMessage: %v (created %v)", err, created)
						return
					}
					mu.Lock()
					seen[m.Seq]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		const total = writers * perWriter
		for seq := int64(1); seq <= total; seq++ {
			if seen[seq] != 1 {
				t.Errorf("seq %d returned %d times, want once", seq, seen[seq])
			}
		}
		if len(seen) != total {
			t.Errorf("%d distinct seqs, want %d", len(seen), total)
		}
		// Page backwards from the newest: AfterSeq 0 would mean "newest" too.
		var stored []int64
		q := parley.HistoryQuery{Limit: 150}
		for {
			page, head, err := s.ListMessages(t.Context(), r.ID, q)
			if err != nil {
				t.Fatalf("ListMessages: %v", err)
			}
			if head != total {
				t.Fatalf("head = %d, want %d", head, total)
			}
			if len(page) == 0 {
				break
			}
			stored = append(seqs(page), stored...)
			q.BeforeSeq = page[0].Seq
		}
		if !slices.Equal(stored, seqRange(1, total)) {
			t.Errorf("stored seqs are not 1..%d: %d of them", total, len(stored))
		}
	}},
	{"ConcurrentRetriesStoreOnce", func(t *testing.T, s parley.Store) {
		const racers = 10
		alice := CreateUser(t, s, "alice")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			ids     = map[string]bool{}
			created int
		)
		for range racers {
			wg.Go(func() {
				m, c, err := s.AppendMessage(t.Context(), parley.NewMessage{
					RoomID: r.ID, SenderID: alice.ID, Text: "only once", ClientMessageID: "race",
				}, nil)
				if err != nil {
					t.Errorf("AppendMessage: %v", err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				ids[m.ID] = true
				if c {
					created++
				}
			})
		}
		wg.Wait()
		if created != 1 || len(ids) != 1 {
			t.Errorf("%d calls created, %d distinct ids; want 1 and 1", created, len(ids))
		}
		wantOneMessage(t, s, r.ID, "stored")
	}},
	{"HistoryWindows", func(t *testing.T, s parley.Store) {
		alice := CreateUser(t, s, "alice")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		sent := appendTexts(t, s, r, alice, 10)
		for _, tc := range []struct {
			name string
			q    parley.HistoryQuery
			want []int64
		}{
			{"Newest", parley.HistoryQuery{Limit: 3}, seqRange(8, 10)},
			{"NewestAll", parley.HistoryQuery{Limit: 50}, seqRange(1, 10)},
			{"After", parley.HistoryQuery{AfterSeq: 3, Limit: 4}, seqRange(4, 7)},
			{"FromStart", parley.HistoryQuery{Forward: true, Limit: 4}, seqRange(1, 4)},
			{"AfterNearHead", parley.HistoryQuery{AfterSeq: 8, Limit: 5}, seqRange(9, 10)},
			{"AfterHead", parley.HistoryQuery{AfterSeq: 10, Limit: 5}, nil},
			{"AfterBeyondHead", parley.HistoryQuery{AfterSeq: 99, Limit: 5}, nil},
			{"Before", parley.HistoryQuery{BeforeSeq: 5, Limit: 3}, seqRange(2, 4)},
			{"BeforeNearStart", parley.HistoryQuery{BeforeSeq: 3, Limit: 10}, seqRange(1, 2)},
			{"BeforeFirst", parley.HistoryQuery{BeforeSeq: 1, Limit: 10}, nil},
			{"BeforeBeyondHead", parley.HistoryQuery{BeforeSeq: 99, Limit: 2}, seqRange(9, 10)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				msgs, head, err := s.ListMessages(t.Context(), r.ID, tc.q)
				if err != nil {
					t.Fatalf("ListMessages(%+v): %v", tc.q, err)
				}
				if head != 10 {
					t.Errorf("head = %d, want 10", head)
				}
				if got := seqs(msgs); !slices.Equal(got, tc.want) {
					t.Fatalf("seqs = %v, want %v", got, tc.want)
				}
				for _, m := range msgs {
					if !sameMessage(m, sent[m.Seq-1]) {
						t.Errorf("message %d = %+v, want %+v", m.Seq, m, sent[m.Seq-1])
					}
				}
			})
		}
	}},
	{"HistoryOfEmptyRoom", func(t *testing.T, s parley.Store) {
		alice := CreateUser(t, s, "alice")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		msgs, head, err := s.ListMessages(t.Context(), r.ID, parley.HistoryQuery{Limit: 10})
		if err != nil || head != 0 || len(msgs) != 0 {
			t.Errorf("ListMessages = %v, head %d, %v; want none, head 0", msgs, head, err)
		}
	}},
	{"AppendErrCanceled", func(t *testing.T, s parley.Store) {
		// A caller whose context has ended gets its error, and nothing is
		// stored.
		alice := CreateUser(t, s, "alice")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, _, err := s.AppendMessage(ctx, parley.NewMessage{RoomID: r.ID, SenderID: alice.ID, Text: "gone", ClientMessageID: "c1"}, nil)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("AppendMessage = %v; want context.Canceled", err)
		}
		if got, err := s.RoomByID(t.Context(), r.ID); err != nil || got.HeadSeq != 0 {
			t.Fatalf("RoomByID = %+v, %v; want head 0", got, err)
		}
	}},
	{"ErrRoomNotFound", func(t *testing.T, s parley.Store) {
		alice := CreateUser(t, s, "alice")
		_, _, err := s.AppendMessage(t.Context(), parley.NewMessage{
			RoomID: "r_missing", SenderID: alice.ID, Text: "hi", ClientMessageID: "c1",
		}, nil)
		wantCode(t, err, parley.ENOTFOUND)
		_, _, err = s.ListMessages(t.Context(), "r_missing", parley.HistoryQuery{Limit: 10})
		wantCode(t, err, parley.ENOTFOUND)
	}},
}
