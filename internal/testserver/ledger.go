package testserver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
)

// LogEntry is what a subscriber learns from one event of the room log:
// its kind ("message", "edited", "deleted", "joined NAME", "left NAME"),
// its seq, and the seq of the message it is about (0 for member events).
type LogEntry struct {
	Kind       string
	Seq, About int64
}

// EntryOf returns the room log entry a Subscribe frame carries; false for
// frames that are not in the log (heartbeats, read markers).
func EntryOf(res *parleyv1.SubscribeResponse) (LogEntry, bool) {
	switch e := res.GetEvent().(type) {
	case *parleyv1.SubscribeResponse_Message:
		return LogEntry{"message", e.Message.GetSeq(), e.Message.GetSeq()}, true
	case *parleyv1.SubscribeResponse_MessageEdited:
		return LogEntry{"edited", e.MessageEdited.GetSeq(), e.MessageEdited.GetMessage().GetSeq()}, true
	case *parleyv1.SubscribeResponse_MessageDeleted:
		return LogEntry{"deleted", e.MessageDeleted.GetSeq(), e.MessageDeleted.GetMessage().GetSeq()}, true
	case *parleyv1.SubscribeResponse_MemberJoined:
		return LogEntry{"joined " + e.MemberJoined.GetUser().GetUsername(), e.MemberJoined.GetSeq(), 0}, true
	case *parleyv1.SubscribeResponse_MemberLeft:
		return LogEntry{"left " + e.MemberLeft.GetUser().GetUsername(), e.MemberLeft.GetSeq(), 0}, true
	}
	return LogEntry{}, false
}

// Ledger is a room under load for RunLedger: senders send, edit and delete
// their own messages at random while churners join and leave (or are
// added by the owner and leave), and readers follow the room's log.
//
// Every participant is given as the same session through one or more
// endpoints (replicas, protocols): a call that fails as a server going
// away does (unavailable, deadline exceeded) is retried on the next
// endpoint for up to 20 seconds, and a reader whose stream ends resumes
// from its last seq on the next endpoint.
type Ledger struct {
	RoomID   string
	Owner    []*User // the room's creator: adds churners, reads history and members at the end
	Readers  []LedgerReader
	Senders  [][]*User // members already
	Churners [][]*User // not members yet
	// OpsPerSender is how many sends, edits and deletions each sender
	// makes; by default 60.
	OpsPerSender int
	// ChurnRounds is how often each churner joins and leaves; by default 8.
	ChurnRounds int
	// DropEvery is after how many events a dropping reader ends its stream
	// and resumes; by default 37.
	DropEvery int
	// During, if set, runs while the senders and churners do (a rolling
	// restart, say): they keep going until it returns, past their counts
	// (churners then only join and leave: AddMember is rate limited).
	// RunLedger waits for it before reading the history.
	During func()
	// Pause is how long each sender and churner waits between operations;
	// by default none.
	Pause time.Duration

	during chan struct{} // closed when During has returned
}

// more reports whether a participant that made n of its count operations
// should make another.
func (l *Ledger) more(n, count int) bool {
	if n < count {
		return true
	}
	select {
	case <-l.during:
		return false
	default:
		return true
	}
}

// LedgerReader is a member who follows the room's log from seq 0.
type LedgerReader struct {
	Name  string
	Via   []*User // it starts on the first and moves to the next after each stream
	Drops bool    // it ends its stream every DropEvery events and resumes
}

// LedgerResult is what RunLedger saw.
type LedgerResult struct {
	Head    int64
	Counts  map[string]int // events by kind ("joined", not "joined NAME")
	Streams []int          // streams each reader used
	Retries int            // calls retried on another endpoint
}

// appliedMessage is a message as a reader rebuilds it from the log.
type appliedMessage struct {
	text            string
	edited, deleted bool
}

// ledgerReader is a reader's progress.
type ledgerReader struct {
	LedgerReader
	entries []LogEntry
	applied map[int64]appliedMessage
	members map[string]bool
	streams int
	lastErr error
}

// RunLedger runs l and fails the test unless every reader ends with the
// identical log, seqs 1..head without a gap or a repeat, applying which
// reproduces exactly what ListMessages returns and who ListMembers lists.
func RunLedger(t *testing.T, l Ledger) LedgerResult {
	t.Helper()
	l.OpsPerSender = cmp.Or(l.OpsPerSender, 60)
	l.ChurnRounds = cmp.Or(l.ChurnRounds, 8)
	l.DropEvery = cmp.Or(l.DropEvery, 37)
	ctx, cancel := context.WithTimeout(t.Context(), 4*CallTimeout)
	defer cancel()
	var retries atomic.Int64

	readers := make([]*ledgerReader, len(l.Readers))
	targets := make(chan int64, len(readers))
	var follow sync.WaitGroup
	for i, r := range l.Readers {
		readers[i] = &ledgerReader{LedgerReader: r, applied: map[int64]appliedMessage{},
			members: map[string]bool{l.Owner[0].User.GetUsername(): true}}
		follow.Go(func() { readers[i].follow(ctx, t, l.RoomID, l.DropEvery, targets) })
	}

	var work sync.WaitGroup
	for i, via := range l.Senders {
		work.Go(func() { l.send(ctx, t, &retries, i, via) })
	}
	for i, via := range l.Churners {
		work.Go(func() { l.churn(ctx, t, &retries, i, via) })
	}
	l.during = make(chan struct{})
	work.Go(func() {
		defer close(l.during)
		if l.During != nil {
			l.During()
		}
	})
	work.Wait()

	history, head := readHistory(ctx, t, l.Owner[0], l.RoomID)
	members := readMembers(ctx, t, l.Owner[0], l.RoomID)
	for range readers {
		targets <- head
	}
	follow.Wait()

	res := LedgerResult{Head: head, Counts: map[string]int{}, Retries: int(retries.Load())}
	for _, e := range readers[0].entries {
		kind, _, _ := strings.Cut(e.Kind, " ")
		res.Counts[kind]++
	}
	for _, r := range readers {
		res.Streams = append(res.Streams, r.streams)
		if int64(len(r.entries)) != head || !slices.Equal(r.entries, readers[0].entries) {
			t.Errorf("%s: %d events, differ from %s's %d (head %d)", r.Name, len(r.entries), readers[0].Name, len(readers[0].entries), head)
		}
		if !maps.Equal(r.applied, history) {
			t.Errorf("%s: applying the log gives %d messages that differ from ListMessages' %d", r.Name, len(r.applied), len(history))
		}
		if !maps.Equal(r.members, members) {
			t.Errorf("%s: applying the log gives members %v, ListMembers %v", r.Name, slices.Sorted(maps.Keys(r.members)), slices.Sorted(maps.Keys(members)))
		}
	}
	return res
}

// follow reads the room until it has seen seq target (known once the
// senders and churners are done), resuming from its last seq whenever its
// stream ends.
func (r *ledgerReader) follow(ctx context.Context, t *testing.T, roomID string, dropEvery int, targets <-chan int64) {
	var last, target int64 = 0, -1
	for target < 0 || last < target {
		if ctx.Err() != nil {
			t.Errorf("%s: gave up at seq %d (target %d); last error: %v", r.Name, last, target, r.lastErr)
			return
		}
		u := r.Via[r.streams%len(r.Via)]
		r.streams++
		streamCtx, stop := context.WithCancel(ctx)
		stream, err := u.Messages.Subscribe(streamCtx, connect.NewRequest(&parleyv1.SubscribeRequest{RoomId: roomID, SinceSeq: last}))
		if err != nil {
			stop()
			r.lastErr = err
			time.Sleep(50 * time.Millisecond)
			continue
		}
		n := 0
		for stream.Receive() {
			if e, ok := EntryOf(stream.Msg()); ok {
				if e.Seq != last+1 {
					t.Errorf("%s: seq %d after %d", r.Name, e.Seq, last)
				}
				last = e.Seq
				r.entries = append(r.entries, e)
				r.apply(stream.Msg())
				n++
			}
			if target < 0 {
				select {
				case target = <-targets:
				default:
				}
			}
			if target >= 0 && last >= target || r.Drops && n == dropEvery {
				break
			}
		}
		if err := stream.Err(); err != nil {
			r.lastErr = err
		}
		stop()
		_ = stream.Close()
		if n == 0 {
			time.Sleep(50 * time.Millisecond) // the endpoint may be down: do not spin
		}
		if target < 0 {
			select {
			case target = <-targets:
			default:
			}
		}
	}
}

// apply changes the reader's messages and members by one Subscribe event.
func (r *ledgerReader) apply(res *parleyv1.SubscribeResponse) {
	switch e := res.GetEvent().(type) {
	case *parleyv1.SubscribeResponse_Message:
		m := e.Message
		r.applied[m.GetSeq()] = appliedMessage{text: m.GetText(), edited: m.GetEditTime() != nil, deleted: m.GetDeleteTime() != nil}
	case *parleyv1.SubscribeResponse_MessageEdited:
		m := e.MessageEdited.GetMessage()
		r.applied[m.GetSeq()] = appliedMessage{text: m.GetText(), edited: true}
	case *parleyv1.SubscribeResponse_MessageDeleted:
		old := r.applied[e.MessageDeleted.GetMessage().GetSeq()]
		r.applied[e.MessageDeleted.GetMessage().GetSeq()] = appliedMessage{edited: old.edited, deleted: true}
	case *parleyv1.SubscribeResponse_MemberJoined:
		r.members[e.MemberJoined.GetUser().GetUsername()] = true
	case *parleyv1.SubscribeResponse_MemberLeft:
		delete(r.members, e.MemberLeft.GetUser().GetUsername())
	}
}

// retry calls op on via[0], then on the next endpoint after each failure
// of a server going away, for up to 20 seconds. op is told whether it is
// a retry: a change that was stored but whose answer was lost then fails
// as a repeat (already a member, not a member) and counts as done.
func retry(ctx context.Context, rc *atomic.Int64, via []*User, op func(ctx context.Context, u *User, again bool) error) error {
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := op(callCtx, via[i%len(via)], i > 0)
		cancel()
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) || !goingAway(err) {
			return err
		}
		rc.Add(1)
		time.Sleep(20 * time.Millisecond)
	}
}

// goingAway reports whether err is how a call fails while its server
// stops or restarts.
func goingAway(err error) bool {
	switch connect.CodeOf(err) {
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded:
		return true
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// send makes the sender's OpsPerSender sends, edits and deletions of its
// own messages, at random.
func (l *Ledger) send(ctx context.Context, t *testing.T, rc *atomic.Int64, i int, via []*User) {
	rng := rand.New(rand.NewPCG(uint64(i), 17)) //nolint:gosec // a test load, reproducible per sender

	var live []int64 // own messages not deleted
	for op := 0; l.more(op, l.OpsPerSender); op++ {
		time.Sleep(l.Pause)
		var err error
		switch r := rng.IntN(100); {
		case r < 25 && len(live) > 0:
			req := &parleyv1.EditMessageRequest{RoomId: l.RoomID, Seq: live[rng.IntN(len(live))], Text: fmt.Sprintf("edit %d by %d", op, i)}
			err = retry(ctx, rc, via, func(ctx context.Context, u *User, _ bool) error {
				_, err := u.Messages.EditMessage(ctx, connect.NewRequest(req))
				return err
			})
		case r < 40 && len(live) > 0:
			j := rng.IntN(len(live))
			req := &parleyv1.DeleteMessageRequest{RoomId: l.RoomID, Seq: live[j]}
			err = retry(ctx, rc, via, func(ctx context.Context, u *User, _ bool) error {
				_, err := u.Messages.DeleteMessage(ctx, connect.NewRequest(req))
				return err
			})
			live = slices.Delete(live, j, j+1)
		default:
			req := &parleyv1.SendMessageRequest{RoomId: l.RoomID, Text: fmt.Sprintf("message %d from %d", op, i), ClientMessageId: fmt.Sprintf("s%d-%d", i, op)}
			err = retry(ctx, rc, via, func(ctx context.Context, u *User, _ bool) error {
				res, err := u.Messages.SendMessage(ctx, connect.NewRequest(req))
				if err == nil {
					live = append(live, res.Msg.GetMessage().GetSeq())
				}
				return err
			})
		}
		if err != nil {
			t.Errorf("sender %d, op %d: %v", i, op, err)
			return
		}
	}
}

// churn makes the churner a member ChurnRounds times, by joining or by
// being added by the owner in turn, and leave each time.
func (l *Ledger) churn(ctx context.Context, t *testing.T, rc *atomic.Int64, i int, via []*User) {
	username := via[0].User.GetUsername()
	for round := 0; l.more(round, l.ChurnRounds); round++ {
		time.Sleep(l.Pause)
		var err error
		if round%2 == 0 || round >= l.ChurnRounds {
			err = retry(ctx, rc, via, func(ctx context.Context, u *User, _ bool) error {
				_, err := u.Rooms.JoinRoom(ctx, connect.NewRequest(&parleyv1.JoinRoomRequest{RoomId: l.RoomID}))
				return err
			})
		} else {
			err = retry(ctx, rc, l.Owner, func(ctx context.Context, u *User, again bool) error {
				_, err := u.Rooms.AddMember(ctx, connect.NewRequest(&parleyv1.AddMemberRequest{RoomId: l.RoomID, Username: username}))
				if again && connect.CodeOf(err) == connect.CodeAlreadyExists {
					return nil // the first attempt was stored
				}
				return err
			})
		}
		if err == nil {
			err = retry(ctx, rc, via, func(ctx context.Context, u *User, again bool) error {
				_, err := u.Rooms.LeaveRoom(ctx, connect.NewRequest(&parleyv1.LeaveRoomRequest{RoomId: l.RoomID}))
				if again && connect.CodeOf(err) == connect.CodeFailedPrecondition {
					return nil
				}
				return err
			})
		}
		if err != nil {
			t.Errorf("churner %d, round %d: %v", i, round, err)
			return
		}
	}
}

// readHistory reads a room's whole history and its head.
func readHistory(ctx context.Context, t *testing.T, u *User, roomID string) (map[int64]appliedMessage, int64) {
	t.Helper()
	history := map[int64]appliedMessage{}
	var head int64
	for after := int64(0); ; {
		res, err := u.Messages.ListMessages(ctx, connect.NewRequest(&parleyv1.ListMessagesRequest{RoomId: roomID, AfterSeq: &after, Limit: 500}))
		if err != nil {
			t.Fatalf("ListMessages: %v", err)
		}
		head = res.Msg.GetHeadSeq()
		for _, m := range res.Msg.GetMessages() {
			history[m.GetSeq()] = appliedMessage{text: m.GetText(), edited: m.GetEditTime() != nil, deleted: m.GetDeleteTime() != nil}
			after = m.GetSeq()
		}
		if len(res.Msg.GetMessages()) < 500 {
			return history, head
		}
	}
}

// readMembers reads the usernames of a room's members.
func readMembers(ctx context.Context, t *testing.T, u *User, roomID string) map[string]bool {
	t.Helper()
	members := map[string]bool{}
	for token := ""; ; {
		res, err := u.Rooms.ListMembers(ctx, connect.NewRequest(&parleyv1.ListMembersRequest{RoomId: roomID, PageSize: 100, PageToken: token}))
		if err != nil {
			t.Fatalf("ListMembers: %v", err)
		}
		for _, m := range res.Msg.GetMembers() {
			members[m.GetUser().GetUsername()] = true
		}
		if token = res.Msg.GetNextPageToken(); token == "" {
			return members
		}
	}
}
