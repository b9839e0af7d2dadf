package server

import (
	"sync"
	"time"
)

// heartbeatSlots is how many slots a heartbeatWheel turns through per
// heartbeat interval: the first heartbeat of a stream comes between one
// interval and one interval plus an eighth after the stream started, every
// later one an interval after the previous.
const heartbeatSlots = 8

// heartbeatWheel times the heartbeats of all of a server's streams with one
// ticker, instead of a timer per stream: a stream takes a slot, and each
// tick (an eighth of the interval) signals the streams of the next slot.
// Its goroutine runs only while a stream is registered.
type heartbeatWheel struct {
	step time.Duration // interval / heartbeatSlots

	mu      sync.Mutex
	slots   [heartbeatSlots]map[*heartbeatTimer]struct{}
	streams int
	next    int           // the slot the next tick signals
	stop    chan struct{} // closed to stop the goroutine; nil when none runs
}

// heartbeatTimer is one stream's heartbeat: C receives a value every
// interval (dropped if the stream has not taken the previous one).
type heartbeatTimer struct {
	C     chan struct{}
	wheel *heartbeatWheel
	slot  int
	armed bool // passed over once: the next turn of its slot signals it
}

func newHeartbeatWheel(interval time.Duration) *heartbeatWheel {
	return &heartbeatWheel{step: max(interval/heartbeatSlots, 1)}
}

// start registers a stream; its first heartbeat comes after one interval
// at least. The stream must call Stop when it ends.
func (w *heartbeatWheel) start() *heartbeatTimer {
	t := &heartbeatTimer{C: make(chan struct{}, 1), wheel: w}
	w.mu.Lock()
	defer w.mu.Unlock()
	// The next tick, within a step, passes this slot over; its next
	// turn, a whole interval after that, signals the stream.
	t.slot = w.next
	if w.slots[t.slot] == nil {
		w.slots[t.slot] = make(map[*heartbeatTimer]struct{})
	}
	w.slots[t.slot][t] = struct{}{}
	if w.streams++; w.stop == nil {
		w.stop = make(chan struct{})
		go w.turn(w.stop)
	}
	return t
}

// Stop ends the stream's heartbeats.
func (t *heartbeatTimer) Stop() {
	w := t.wheel
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.slots[t.slot], t)
	if w.streams--; w.streams == 0 {
		close(w.stop)
		w.stop = nil
	}
}

// turn ticks until stop is closed.
func (w *heartbeatWheel) turn(stop chan struct{}) {
	ticker := time.NewTicker(w.step)
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
			w.tick()
		}
	}
}

// tick signals the streams of the next slot and moves on.
func (w *heartbeatWheel) tick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for t := range w.slots[w.next] {
		if !t.armed {
			t.armed = true
			continue
		}
		select {
		case t.C <- struct{}{}:
		default: // the stream has not taken the last one yet
		}
	}
	w.next = (w.next + 1) % heartbeatSlots
}
