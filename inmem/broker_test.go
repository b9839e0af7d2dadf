package inmem_test

import (
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/inmem"
)

func message(room string, seq int64) *parley.Event {
	return &parley.Event{Kind: parley.EventMessage, RoomID: room, Message: &parley.Message{Seq: seq}}
}

func seqs(events []*parley.Event) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.Seq()
	}
	return out
}

func wantSeqs(t *testing.T, got []*parley.Event, from, to int64) {
	t.Helper()
	if len(got) != int(to-from+1) {
		t.Fatalf("got seqs %v, want %d..%d", seqs(got), from, to)
	}
	for i, e := range got {
		if e.Seq() != from+int64(i) {
			t.Fatalf("got seqs %v, want %d..%d", seqs(got), from, to)
		}
	}
}

func ready(t *testing.T, sub parley.Subscription) {
	t.Helper()
	select {
	case <-sub.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("Ready not signalled")
	}
}

func TestBroker(t *testing.T) {
	t.Parallel()
	t.Run("DrainTakesEverythingInOrder", func(t *testing.T) {
		t.Parallel()
		b := inmem.NewBroker()
		sub := b.Subscribe("r")
		defer sub.Close()
		other := b.Subscribe("other")
		defer other.Close()
		for seq := int64(1); seq <= 100; seq++ {
			b.Publish(message("r", seq))
		}
		ready(t, sub)
		wantSeqs(t, sub.Drain(nil), 1, 100)
		if got := sub.Drain(nil); len(got) != 0 {
			t.Fatalf("second Drain: %v", seqs(got))
		}
		if got := other.Drain(nil); len(got) != 0 {
			t.Fatalf("other room got %v", seqs(got))
		}
		b.Publish(message("r", 101))
		ready(t, sub)
		wantSeqs(t, sub.Drain(nil), 101, 101)
	})
	t.Run("OverflowDropsAtQueueSize", func(t *testing.T) {
		t.Parallel()
		b := inmem.NewBroker(inmem.WithQueueSize(4))
		sub := b.Subscribe("r")
		defer sub.Close()
		for seq := int64(1); seq <= 4; seq++ {
			b.Publish(message("r", seq))
		}
		select {
		case <-sub.Overflowed():
			t.Fatal("overflowed at the queue size")
		default:
		}
		b.Publish(message("r", 5))
		select {
		case <-sub.Overflowed():
		case <-time.After(5 * time.Second):
			t.Fatal("not dropped past the queue size")
		}
		wantSeqs(t, sub.Drain(nil), 1, 4)
		b.Publish(message("r", 6))
		if got := sub.Drain(nil); len(got) != 0 {
			t.Fatalf("queued after overflow: %v", seqs(got))
		}
		deadline := time.Now().Add(5 * time.Second)
		for b.Subscribers("r") != 0 {
			if time.Now().After(deadline) {
				t.Fatal("dropped subscriber still in the room")
			}
			time.Sleep(time.Millisecond)
		}
	})
	t.Run("DrainedBatchCountsUntilNextDrain", func(t *testing.T) {
		t.Parallel()
		b := inmem.NewBroker(inmem.WithQueueSize(4))
		sub := b.Subscribe("r")
		defer sub.Close()
		for seq := int64(1); seq <= 3; seq++ {
			b.Publish(message("r", seq))
		}
		wantSeqs(t, sub.Drain(nil), 1, 3) // 3 handed out, being written
		b.Publish(message("r", 4))
		b.Publish(message("r", 5)) // 3 handed out + 2 queued > 4
		select {
		case <-sub.Overflowed():
		case <-time.After(5 * time.Second):
			t.Fatal("a reader still writing its last batch was not counted behind")
		}
	})
	t.Run("DrainThenClose", func(t *testing.T) {
		t.Parallel()
		b := inmem.NewBroker()
		sub := b.Subscribe("r")
		for seq := int64(1); seq <= 50; seq++ {
			b.Publish(message("r", seq))
		}
		var got []*parley.Event
		for len(got) < 50 {
			select {
			case <-sub.Ready():
				got = sub.Drain(got)
			case <-time.After(5 * time.Second):
				t.Fatalf("Drain: seq %d not delivered", len(got)+1)
			}
		}
		for i, e := range got {
			if want := int64(i + 1); e.Seq() != want {
				t.Fatalf("Drain: seq %d, want %d", e.Seq(), want)
			}
		}
		sub.Close()
		sub.Close() // twice is fine
		if n := b.Subscribers("r"); n != 0 {
			t.Fatalf("Subscribers after Close = %d", n)
		}
	})
}
