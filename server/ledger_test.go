package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc/status"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/inmem"
	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/server"
)

// ledger records every acknowledged send, so that deliveries can be checked
// against it: seq -> text.
type ledger struct {
	mu   sync.Mutex
	acks map[int64]string
}

func (l *ledger) ack(t *testing.T, m *parleyv1.Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if prev, ok := l.acks[m.GetSeq()]; ok && prev != m.GetText() {
		t.Errorf("seq %d acknowledged twice: %q and %q", m.GetSeq(), prev, m.GetText())
	}
	l.acks[m.GetSeq()] = m.GetText()
}

func (l *ledger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acks)
}

// checkDeliveries asserts got is exactly seqs from+1..to, in order, each
// with the acknowledged text.
func (l *ledger) checkDeliveries(t *testing.T, who string, got []*parleyv1.Message, from, to int64) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if int64(len(got)) != to-from {
		t.Errorf("%s: got %d messages, want %d (seqs %d..%d)", who, len(got), to-from, from+1, to)
	}
	for i, m := range got {
		want := from + 1 + int64(i)
		if m.GetSeq() != want {
			t.Errorf("%s: delivery %d has seq %d, want %d", who, i, m.GetSeq(), want)
			return
		}
		if text, ok := l.acks[want]; ok && text != m.GetText() {
			t.Errorf("%s: seq %d text %q, acknowledged %q", who, want, m.GetText(), text)
			return
		}
	}
}

// ledgerSubscriber collects a Subscribe stream's messages until it has seq `until`
// (of any event of the room log),
// resubscribing from the last seq whenever the stream ends early or, with
// dropEvery > 0, on purpose after roughly that many messages.
type ledgerSubscriber struct {
	name      string
	user      *testserver.User
	roomID    string
	dropEvery int
	// open starts a stream after since; nil is Subscribe through user's client.
	open  func(ctx context.Context, since int64) (eventReader, error)
	got   []*parleyv1.Message
	drops int
}

// eventReader is a Subscribe stream as a ledgerSubscriber reads it: a
// Connect client's, or the events route's (testserver.EventsReader).
type eventReader interface {
	Receive() bool
	Msg() *parleyv1.SubscribeResponse
	Err() error
	Close() error
}

// eventsRoute opens the events route for u as SSE (accept "") or with that
// Accept header, resuming with Last-Event-ID.
func eventsRoute(client *http.Client, baseURL string, u *testserver.User, roomID, accept string) func(context.Context, int64) (eventReader, error) {
	return func(ctx context.Context, since int64) (eventReader, error) {
		h := http.Header{"Authorization": {"Bearer " + u.Token}, "Last-Event-Id": {strconv.FormatInt(since, 10)}}
		if accept != "" {
			h.Set("Accept", accept)
		}
		return testserver.OpenEvents(ctx, client, baseURL+"/v1/rooms/"+roomID+"/events", h)
	}
}

func (s *ledgerSubscriber) run(ctx context.Context, since, until int64) error {
	last := since
	for last < until {
		streamCtx, cancel := context.WithCancel(ctx)
		var stream eventReader
		var err error
		if s.open != nil {
			stream, err = s.open(streamCtx, last)
		} else {
			stream, err = s.user.Messages.Subscribe(streamCtx, connect.NewRequest(&parleyv1.SubscribeRequest{RoomId: s.roomID, SinceSeq: last}))
		}
		if err != nil {
			cancel()
			return err
		}
		dropAt := -1
		if s.dropEvery > 0 {
			dropAt = 1 + rand.IntN(s.dropEvery)
		}
		n := 0
		for last < until && n != dropAt && stream.Receive() {
			if e, ok := testserver.EntryOf(stream.Msg()); ok {
				if m := stream.Msg().GetMessage(); m != nil {
					s.got = append(s.got, m)
				}
				last = e.Seq
				n++
			}
		}
		err = stream.Err()
		cancel()
		_ = stream.Close()
		switch {
		case last >= until:
		case n == dropAt:
			s.drops++
		case err != nil:
			return fmt.Errorf("%s: stream ended at seq %d: %w", s.name, last, err)
		}
		if ctxErr := ctx.Err(); ctxErr != nil && last < until {
			return fmt.Errorf("%s: stopped at seq %d: %w", s.name, last, ctxErr)
		}
	}
	return nil
}

// TestLedgerConcurrentSendersAndSubscribers: 20 senders join a room (seqs
// 1..20 of its log) and send 500 messages each, five subscribers on
// different protocols and three that keep dropping their stream and
// resuming (gRPC, and the events route as SSE and as NDJSON, with
// Last-Event-ID); each must see message seqs 21..10020 exactly once, in
// order, with the acknowledged texts. Every send is retried once with the
// same client_message_id and must get the same message back.
func TestLedgerConcurrentSendersAndSubscribers(t *testing.T) {
	t.Parallel()
	const senders, perSender = 20, 500
	const total = senders * perSender
	const joins = senders // the log's first events
	srv := testserver.Start(t)
	h2c := srv.Client(t, "connect/proto/h2c")
	owner := testserver.SignUp(t, h2c, "owner")
	roomID := owner.CreateRoom(t, "ledger", parleyv1.Visibility_VISIBILITY_UNSPECIFIED).GetId()
	protocols := []string{"connect/proto/h2c", "grpc/proto/h2c", "grpcweb/proto/h2c", "connect/json/h2c"}
	users := make([]*testserver.User, senders)
	for i := range senders {
		users[i] = testserver.SignUp(t, srv.Client(t, protocols[i%len(protocols)]), fmt.Sprintf("sender%02d", i))
		users[i].JoinRoom(t, roomID)
	}

	ctx := testserver.Context(t)
	var subs []*ledgerSubscriber
	for _, name := range []string{"connect/json/h2c", "connect/proto/http1", "grpc/proto/h2c", "grpcweb/proto/http1", "grpcweb/json/tls", "grpc/json/tls"} {
		c := srv.Client(t, name)
		u := owner.Via(c)
		s := &ledgerSubscriber{name: name, user: u, roomID: roomID}
		if name == "grpc/json/tls" {
			s.dropEvery = 1500
			s.name += " (dropping)"
		}
		subs = append(subs, s)
	}
	// The events route, as curl reads it over HTTP/1.1 (SSE) and h2c
	// (NDJSON), each dropping and resuming with Last-Event-ID.
	subs = append(subs,
		&ledgerSubscriber{name: "sse/http1 (dropping)", roomID: roomID, dropEvery: 1500,
			open: eventsRoute(testserver.HTTP1Client(), srv.URL, owner, roomID, "")},
		&ledgerSubscriber{name: "ndjson/h2c (dropping)", roomID: roomID, dropEvery: 1500,
			open: eventsRoute(testserver.H2CClient(), srv.URL, owner, roomID, "application/x-ndjson")},
	)
	var wg sync.WaitGroup
	errs := make(chan error, len(subs)+senders)
	for _, s := range subs {
		wg.Go(func() {
			if err := s.run(ctx, 0, joins+total); err != nil {
				errs <- err
			}
		})
	}

	l := &ledger{acks: make(map[int64]string)}
	var sendWG sync.WaitGroup
	for i, u := range users {
		sendWG.Go(func() {
			for j := range perSender {
				req := &parleyv1.SendMessageRequest{RoomId: roomID, Text: fmt.Sprintf("s%d-m%d", i, j), ClientMessageId: fmt.Sprintf("c%d", j)}
				res, err := u.Messages.SendMessage(ctx, connect.NewRequest(req))
				if err != nil {
					errs <- fmt.Errorf("sender %d message %d: %w", i, j, err)
					return
				}
				l.ack(t, res.Msg.GetMessage())
				if j%10 == 0 { // a retry must return the original
					again, err := u.Messages.SendMessage(ctx, connect.NewRequest(req))
					if err != nil || again.Msg.GetMessage().GetId() != res.Msg.GetMessage().GetId() {
						errs <- fmt.Errorf("retry of sender %d message %d: %v, %w", i, j, again, err)
						return
					}
				}
			}
		})
	}
	sendWG.Wait()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(l.acks) != total {
		t.Fatalf("%d distinct seqs acknowledged, want %d", len(l.acks), total)
	}
	for _, s := range subs {
		l.checkDeliveries(t, s.name, s.got, joins, joins+total)
	}
	for _, s := range subs {
		if s.dropEvery > 0 {
			t.Logf("%s resumed %d times", s.name, s.drops)
			if s.drops == 0 {
				t.Errorf("%s never dropped", s.name)
			}
		}
	}
	res, err := owner.Messages.ListMessages(ctx, connect.NewRequest(&parleyv1.ListMessagesRequest{RoomId: roomID, Limit: 1}))
	if err != nil || res.Msg.GetHeadSeq() != joins+total {
		t.Errorf("head seq %d (%v), want %d: retries must not store anything", res.Msg.GetHeadSeq(), err, joins+total)
	}
}

// TestLedgerSubscribeDuringLoad starts subscribers at random moments while
// messages flow at about 1,000 per second; each must get a contiguous run
// from its since_seq to the end: no gap at the history/live boundary.
func TestLedgerSubscribeDuringLoad(t *testing.T) {
	t.Parallel()
	const total = 3000
	srv := testserver.Start(t)
	c := srv.Client(t, "connect/proto/h2c")
	owner := testserver.SignUp(t, c, "loader")
	roomID := owner.CreateRoom(t, "load", parleyv1.Visibility_VISIBILITY_UNSPECIFIED).GetId()
	ctx := testserver.Context(t)

	l := &ledger{acks: make(map[int64]string)}
	var head atomic.Int64 // the last acknowledged seq
	sent := make(chan struct{})
	start := time.Now()
	go func() {
		// Twenty senders, each paced at one message per 20 ms: 1,000 msg/s
		// offered in all. A sender waits for its ack, so the rate holds
		// while acks take under 20 ms (group commit shares the fsyncs).
		defer close(sent)
		const senders = 20
		var wg sync.WaitGroup
		for w := range senders {
			wg.Go(func() {
				tick := time.NewTicker(senders * time.Millisecond)
				defer tick.Stop()
				for i := w; i < total; i += senders {
					<-tick.C
					res, err := owner.Messages.SendMessage(ctx, connect.NewRequest(&parleyv1.SendMessageRequest{
						RoomId: roomID, Text: fmt.Sprintf("m%d", i), ClientMessageId: fmt.Sprintf("c%d", i),
					}))
					if err != nil {
						t.Errorf("send %d: %v", i, err)
						return
					}
					l.ack(t, res.Msg.GetMessage())
					if seq := res.Msg.GetMessage().GetSeq(); seq > head.Load() {
						head.Store(seq)
					}
				}
			})
		}
		wg.Wait()
		t.Logf("%d messages acknowledged in %v: %.0f msg/s", total, time.Since(start), total/time.Since(start).Seconds())
	}()

	names := []string{"connect/json/h2c", "grpc/proto/h2c", "grpcweb/proto/http1", "connect/proto/tls"}
	var wg sync.WaitGroup
	for i := range 12 {
		time.Sleep(time.Duration(100+rand.IntN(150)) * time.Millisecond)
		var since int64
		if i%2 == 1 {
			since = rand.Int64N(head.Load() + 1) // resume from somewhere in history
		}
		s := &ledgerSubscriber{name: fmt.Sprintf("late%d/%s", i, names[i%len(names)]), user: owner.Via(srv.Client(t, names[i%len(names)])), roomID: roomID}
		wg.Go(func() {
			if err := s.run(ctx, since, total); err != nil {
				t.Error(err)
				return
			}
			<-sent
			l.checkDeliveries(t, s.name, s.got, since, total)
		})
	}
	wg.Wait()
}

// TestSlowSubscriberIsCutOff: a grpc-go ledgerSubscriber with a small flow-control
// window stops reading. The others keep receiving everything; the slow one
// is dropped from the room at once and, once it reads again, gets a
// contiguous prefix followed by resource_exhausted carrying its last seq.
func TestSlowSubscriberIsCutOff(t *testing.T) {
	t.Parallel()
	const total = 3000
	// The slow reader pauses while 3,000 messages are sent, which on a
	// loaded machine takes longer than the 30 s a blocked write may wait
	// (WithStalledWriteTimeout): this test is about the queue, not that.
	srv := testserver.StartWithBroker(t, []inmem.Option{inmem.WithQueueSize(32)}, server.WithStalledWriteTimeout(10*time.Minute))
	c := srv.Client(t, "connect/proto/h2c")
	owner := testserver.SignUp(t, c, "fastfan")
	roomID := owner.CreateRoom(t, "slow", parleyv1.Visibility_VISIBILITY_UNSPECIFIED).GetId()
	ctx := testserver.Context(t)

	slow := testserver.SlowSubscriber(t, ctx, srv.URL, owner.Token, roomID)

	fast := &ledgerSubscriber{name: "fast", user: owner, roomID: roomID}
	fastDone := make(chan error, 1)
	go func() { fastDone <- fast.run(ctx, 0, total) }()

	l := &ledger{acks: make(map[int64]string)}
	text := strings.Repeat("x", 200)
	var senders sync.WaitGroup
	for w := range 4 {
		senders.Go(func() {
			for i := w; i < total; i += 4 {
				res, err := owner.Messages.SendMessage(ctx, connect.NewRequest(&parleyv1.SendMessageRequest{
					RoomId: roomID, Text: text, ClientMessageId: fmt.Sprintf("c%d", i),
				}))
				if err != nil {
					t.Errorf("send %d: %v", i, err)
					return
				}
				l.ack(t, res.Msg.GetMessage())
			}
		})
	}
	senders.Wait()
	if err := <-fastDone; err != nil {
		t.Fatal(err)
	}
	l.checkDeliveries(t, "fast", fast.got, 0, total)
	// The fast one has hung up; the slow one was dropped when it overflowed,
	// although its stream is still open.
	for deadline := time.Now().Add(5 * time.Second); srv.Broker.Subscribers(roomID) != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers still registered; the slow one should have been dropped", srv.Broker.Subscribers(roomID))
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The slow reader wakes up: a contiguous prefix, then resource_exhausted.
	var last int64
	for {
		var ev parleyv1.SubscribeResponse
		err := slow.RecvMsg(&ev)
		if err == nil {
			if m := ev.GetMessage(); m != nil {
				if m.GetSeq() != last+1 {
					t.Fatalf("slow reader got seq %d after %d", m.GetSeq(), last)
				}
				last = m.GetSeq()
			}
			continue
		}
		st, _ := status.FromError(err)
		if st.Code().String() != "ResourceExhausted" {
			t.Fatalf("slow reader ended with %v, want ResourceExhausted", err)
		}
		var pos *parleyv1.StreamPosition
		for _, d := range st.Details() {
			if p, ok := d.(*parleyv1.StreamPosition); ok {
				pos = p
			}
		}
		if pos == nil || pos.GetLastSeq() != last || pos.GetRoomId() != roomID {
			t.Fatalf("StreamPosition = %v, want last_seq %d", pos, last)
		}
		break
	}
	if last >= total {
		t.Fatalf("slow reader got all %d messages; it was never cut off", last)
	}
	t.Logf("slow reader cut off after seq %d of %d", last, total)
}
