package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

// receiveTimeout is how long the broker suite waits for an event it expects.
const receiveTimeout = 5 * time.Second

// RunBroker runs the broker suite against the brokers that open returns.
// Subtests run in parallel and each calls open once, so open must return
// a new broker without subscribers each time and release it with
// t.Cleanup. Its subscribers must be dropped once they fall queueSize
// events behind, counting the events queued and those handed out by their
// last Drain (a reader still writing its last batch is behind by that
// batch). The suite's room ids need not exist in any store.
//
// The broker must also be a parley.RevocationBroker (revocation.go): its
// revocations reach this process's handlers once each, before Revoke
// returns.
//
// A broker that has a method Subscribers(roomID string) int, reporting a
// room's live subscriptions, is also checked to forget a subscriber once it
// is closed or dropped, and never to register one whose Subscribe failed.
func RunBroker(t *testing.T, open func(t *testing.T, queueSize int) parley.Broker) {
	runEach(t, append(brokerTests[:len(brokerTests):len(brokerTests)], revocationTests...),
		func(*testing.T) func(t *testing.T, queueSize int) parley.Broker { return open })
}

// brokerTest is one subtest of RunBroker: it opens the brokers it needs.
type brokerTest = suiteTest[func(t *testing.T, queueSize int) parley.Broker]

// counter is what a broker implements for the suite to count subscribers.
type counter interface {
	Subscribers(roomID string) int
}

var brokerTests = []brokerTest{
	{"DrainTakesEverythingInOrder", func(t *testing.T, open func(*testing.T, int) parley.Broker) {
		b := open(t, 1024)
		sub := Subscribe(t, b, "r")
		other := Subscribe(t, b, "other")
		publishSeqs(b, "r", 100)
		ready(t, sub)
		WantSeqs(t, eventSeqs(sub.Drain(nil)), 1, 100)
		if got := sub.Drain(nil); len(got) != 0 {
			t.Fatalf("second Drain: %v", eventSeqs(got))
		}
		if got := other.Drain(nil); len(got) != 0 {
			t.Fatalf("other room got %v", eventSeqs(got))
		}
		b.Publish(messageEvent("r", 101))
		ready(t, sub)
		WantSeqs(t, eventSeqs(sub.Drain(nil)), 101, 101)
	}},
	{"SubscribersShareEvents", func(t *testing.T, open func(*testing.T, int) parley.Broker) {
		b := open(t, 1024)
		subs := []parley.Subscription{Subscribe(t, b, "r"), Subscribe(t, b, "r")}
		joined := &parley.Event{Kind: parley.EventMemberJoined, RoomID: "r", Seq: 2, User: parley.User{ID: "u_bob", Username: "bob"}, Time: baseTime}
		sent := []*parley.Event{messageEvent("r", 1), joined, messageEvent("r", 3)}
		for _, e := range sent {
			b.Publish(e)
		}
		for i, sub := range subs {
			var got []*parley.Event
			for len(got) < len(sent) {
				ready(t, sub)
				got = sub.Drain(got)
			}
			for j := range sent {
				if got[j] != sent[j] {
					t.Fatalf("subscriber %d, event %d: got %+v, want the published *Event %+v", i, j, got[j], sent[j])
				}
			}
		}
		if joined.Kind != parley.EventMemberJoined || joined.RoomID != "r" || joined.Seq != 2 || joined.User.ID != "u_bob" || !joined.Time.Equal(baseTime) || joined.Message != nil {
			t.Errorf("published event modified: %+v", joined)
		}
	}},
	{"RoomsPublishedConcurrentlyKeepOrder", func(t *testing.T, open func(*testing.T, int) parley.Broker) {
		const rooms, perRoom = 4, 300
		b := open(t, 1024)
		subs := make([]parley.Subscription, rooms)
		for i := range subs {
			subs[i] = Subscribe(t, b, fmt.Sprint("r", i))
		}
		var wg sync.WaitGroup
		for i := range rooms {
			wg.Go(func() {
				publishSeqs(b, fmt.Sprint("r", i), perRoom)
			})
		}
		for _, sub := range subs {
			WantSeqs(t, ReceiveSeqs(t, sub, perRoom), 1, perRoom)
		}
		wg.Wait()
	}},
	{"OverflowDropsAtQueueSize", func(t *testing.T, open func(*testing.T, int) parley.Broker) {
		b := open(t, 4)
		sub := Subscribe(t, b, "r")
		publishSeqs(b, "r", 4)
		select {
		case <-sub.Overflowed():
			t.Fatal("overflowed at the queue size")
		default:
		}
		b.Publish(messageEvent("r", 5))
		wantOverflowed(t, sub, "not dropped past the queue size")
		WantSeqs(t, eventSeqs(sub.Drain(nil)), 1, 4)
		b.Publish(messageEvent("r", 6))
		if got := sub.Drain(nil); len(got) != 0 {
			t.Fatalf("queued after overflow: %v", eventSeqs(got))
		}
		if c, ok := b.(counter); ok {
			deadline := time.Now().Add(receiveTimeout)
			for c.Subscribers("r") != 0 {
				if time.Now().After(deadline) {
					t.Fatal("dropped subscriber still in the room")
				}
				time.Sleep(time.Millisecond)
			}
		}
	}},
	{"PublishNeverBlocksOnAStalledReader", func(t *testing.T, open func(*testing.T, int) parley.Broker) {
		b := open(t, 4)
		stalled := Subscribe(t, b, "r")
		live := Subscribe(t, b, "r")
		// live keeps up; stalled never drains. Publish must go on for live.
		for seq := int64(1); seq <= 100; seq++ {
			b.Publish(messageEvent("r", seq))
			WantSeqs(t, ReceiveSeqs(t, live, 1), seq, seq)
		}
		wantOverflowed(t, stalled, "a reader that never drained was not dropped")
	}},
	{"DrainedBatchCountsUntilNextDrain", func(t *testing.T, open func(*testing.T, int) parley.Broker) {
		b := open(t, 4)
		sub := Subscribe(t, b, "r")
		publishSeqs(b, "r", 3)
		WantSeqs(t, eventSeqs(sub.Drain(nil)), 1, 3) // 3 handed out, being written
		b.Publish(messageEvent("r", 4))
		b.Publish(messageEvent("r", 5)) // 3 handed out + 2 queued > 4
		wantOverflowed(t, sub, "a reader still writing its last batch was not counted behind")
	}},
	{"DrainThenClose", func(t *testing.T, open func(*testing.T, int) parley.Broker) {
		b := open(t, 1024)
		sub := Subscribe(t, b, "r")
		publishSeqs(b, "r", 50)
		WantSeqs(t, ReceiveSeqs(t, sub, 50), 1, 50)
		sub.Close()
		sub.Close() // twice is fine
		if c, ok := b.(counter); ok {
			if n := c.Subscribers("r"); n != 0 {
				t.Fatalf("Subscribers after Close = %d", n)
			}
		}
		b.Publish(messageEvent("r", 51))
		if got := sub.Drain(nil); len(got) != 0 {
			t.Fatalf("queued after Close: %v", eventSeqs(got))
		}
	}},
	{"SubscriptionOutlivesContext", func(t *testing.T, open func(*testing.T, int) parley.Broker) {
		b := open(t, 1024)
		ctx, cancel := context.WithCancel(t.Context())
		sub, err := b.Subscribe(ctx, "r")
		if err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		cancel()
		b.Publish(messageEvent("r", 1))
		WantSeqs(t, ReceiveSeqs(t, sub, 1), 1, 1)
	}},
	{"ErrContextEnded", func(t *testing.T, open func(*testing.T, int) parley.Broker) {
		b := open(t, 1024)
		canceled, cancel := context.WithCancel(t.Context())
		cancel()
		expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
		defer cancel()
		for _, ctx := range []context.Context{canceled, expired} {
			sub, err := b.Subscribe(ctx, "r")
			if !errors.Is(err, ctx.Err()) || sub != nil {
				t.Errorf("Subscribe with an ended context: got %v, %v; want no subscription and ctx.Err() = %v", sub, err, ctx.Err())
			}
		}
		if c, ok := b.(counter); ok {
			if n := c.Subscribers("r"); n != 0 {
				t.Errorf("Subscribers after failed Subscribes = %d", n)
			}
		}
		// The failed calls left nothing behind that a subscriber would see.
		sub := Subscribe(t, b, "r")
		b.Publish(messageEvent("r", 1))
		WantSeqs(t, ReceiveSeqs(t, sub, 1), 1, 1)
	}},
}

// ReceiveSeqs waits on sub and drains it until it has n events of the room
// log (parley.EventKind.Logged) and returns their seqs, failing the test
// if they have not all arrived within 5 seconds. Other kinds of events are
// skipped.
func ReceiveSeqs(t *testing.T, sub parley.Subscription, n int) []int64 {
	t.Helper()
	var seqs []int64
	deadline := time.After(receiveTimeout)
	for len(seqs) < n {
		select {
		case <-sub.Ready():
			for _, e := range sub.Drain(nil) {
				if e.Kind.Logged() {
					seqs = append(seqs, e.Seq)
				}
			}
		case <-deadline:
			t.Fatalf("received seqs %v, then nothing for %v; want %d events of the log", seqs, receiveTimeout, n)
		}
	}
	return seqs
}

// WantSeqs fails the test unless got is exactly from, from+1, ..., to.
func WantSeqs(t *testing.T, got []int64, from, to int64) {
	t.Helper()
	if int64(len(got)) != to-from+1 {
		t.Fatalf("got seqs %v, want %d..%d", got, from, to)
	}
	for i, s := range got {
		if s != from+int64(i) {
			t.Fatalf("got seqs %v, want %d..%d", got, from, to)
		}
	}
}

// Subscribe subscribes to a room, closing the subscription when the test
// ends, or fails the test.
func Subscribe(t *testing.T, b parley.Broker, roomID string) parley.Subscription {
	t.Helper()
	sub, err := b.Subscribe(t.Context(), roomID)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", roomID, err)
	}
	t.Cleanup(sub.Close)
	return sub
}

// wantOverflowed waits for sub to signal Overflowed, or fails the test
// saying why it should have.
func wantOverflowed(t *testing.T, sub parley.Subscription, failure string) {
	t.Helper()
	select {
	case <-sub.Overflowed():
	case <-time.After(receiveTimeout):
		t.Fatal(failure)
	}
}

// ready waits for sub to signal Ready or fails the test.
func ready(t *testing.T, sub parley.Subscription) {
	t.Helper()
	select {
	case <-sub.Ready():
	case <-time.After(receiveTimeout):
		t.Fatal("Ready not signalled")
	}
}

// publishSeqs publishes message events 1 to last in roomID on b.
func publishSeqs(b parley.Broker, roomID string, last int64) {
	for seq := int64(1); seq <= last; seq++ {
		b.Publish(messageEvent(roomID, seq))
	}
}

func messageEvent(roomID string, seq int64) *parley.Event {
	return &parley.Event{Kind: parley.EventMessage, RoomID: roomID, Seq: seq, Message: &parley.Message{RoomID: roomID, Seq: seq}}
}

func eventSeqs(events []*parley.Event) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.Seq
	}
	return out
}
