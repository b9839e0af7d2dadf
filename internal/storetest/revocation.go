package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"

	"github.com/parley-chat/parley"
)

// revocationTests check the parley.RevocationBroker half of a broker, part
// of RunBroker. Their tokens and ids are random, so brokers that hear each
// other (postgres.Brokers on one database) do not disturb each other's
// subtests.
var revocationTests = []brokerTest{
	{"RevocationReachesEveryHandler", func(t *testing.T, open func(*testing.T, int) parley.Broker) {
		b := revocationBroker(t, open)
		first, second := handle(t, b), handle(t, b)
		session, membership := sessionRevocation(), membershipRevocation()
		for _, r := range []parley.Revocation{session, membership} {
			if err := b.Revoke(t.Context(), r); err != nil {
				t.Fatalf("Revoke(%+v): %v", r, err)
			}
		}
		for name, h := range map[string]*handled{"first": first, "second": second} {
			for _, r := range []parley.Revocation{session, membership} {
				if n := h.count(r); n != 1 {
					t.Errorf("%s handler got %+v %d times when Revoke returned, want once", name, r, n)
				}
			}
		}
		if !session.IsSession() || membership.IsSession() {
			t.Errorf("IsSession: session %v, membership %v", session.IsSession(), membership.IsSession())
		}
	}},
	{"StoppedHandlerGetsNothing", func(t *testing.T, open func(*testing.T, int) parley.Broker) {
		b := revocationBroker(t, open)
		stopped, live := &handled{}, handle(t, b)
		stop := b.HandleRevocations(stopped.add)
		stop()
		stop() // twice is fine
		r := membershipRevocation()
		if err := b.Revoke(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		if live.count(r) != 1 {
			t.Fatal("the live handler did not get the revocation")
		}
		if n := stopped.count(r); n != 0 {
			t.Errorf("stopped handler got the revocation %d times", n)
		}
	}},
	{"RevokeWithEndedContextStillHandledHere", func(t *testing.T, open func(*testing.T, int) parley.Broker) {
		b := revocationBroker(t, open)
		h := handle(t, b)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		r := sessionRevocation()
		if err := b.Revoke(ctx, r); err != nil && !errors.Is(err, ctx.Err()) {
			t.Errorf("Revoke with an ended context = %v, want nil or ctx.Err()", err)
		}
		if n := h.count(r); n != 1 {
			t.Errorf("handler got the revocation %d times, want once", n)
		}
	}},
	{"RevokeConcurrently", func(t *testing.T, open func(*testing.T, int) parley.Broker) {
		const n = 50
		b := revocationBroker(t, open)
		h := handle(t, b)
		revs := make([]parley.Revocation, n)
		var wg sync.WaitGroup
		for i := range revs {
			revs[i] = sessionRevocation()
			wg.Go(func() {
				if err := b.Revoke(t.Context(), revs[i]); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		for _, r := range revs {
			if c := h.count(r); c != 1 {
				t.Fatalf("revocation handled %d times, want once", c)
			}
		}
	}},
	{"RevocationIsNoRoomEvent", func(t *testing.T, open func(*testing.T, int) parley.Broker) {
		b := revocationBroker(t, open)
		r := membershipRevocation()
		sub := Subscribe(t, b, r.RoomID)
		if err := b.Revoke(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		b.Publish(messageEvent(r.RoomID, 1))
		WantSeqs(t, ReceiveSeqs(t, sub, 1), 1, 1)
		if got := sub.Drain(nil); len(got) != 0 {
			t.Errorf("room subscriber got %d more events", len(got))
		}
	}},
}

// revocationBroker returns a new broker of open's, failing the test if it
// does not carry revocations.
func revocationBroker(t *testing.T, open func(*testing.T, int) parley.Broker) fullBroker {
	t.Helper()
	b, ok := open(t, 1024).(fullBroker)
	if !ok {
		t.Fatal("the broker is not a parley.RevocationBroker")
	}
	return b
}

// fullBroker carries room events and revocations.
type fullBroker interface {
	parley.Broker
	parley.RevocationBroker
}

// handled records the revocations a handler got.
type handled struct {
	mu  sync.Mutex
	got []parley.Revocation
}

// handle registers a recording handler on b until the test ends.
func handle(t *testing.T, b parley.RevocationBroker) *handled {
	h := &handled{}
	t.Cleanup(b.HandleRevocations(h.add))
	return h
}

func (h *handled) add(r parley.Revocation) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, r)
}

// count returns how many times r was handled.
func (h *handled) count(r parley.Revocation) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, g := range h.got {
		if bytes.Equal(g.TokenHash, r.TokenHash) && g.UserID == r.UserID && g.RoomID == r.RoomID {
			n++
		}
	}
	return n
}

func sessionRevocation() parley.Revocation {
	hash := make([]byte, 32)
	_, _ = rand.Read(hash)
	return parley.Revocation{TokenHash: hash}
}

func membershipRevocation() parley.Revocation {
	return parley.Revocation{UserID: "u_" + rand.Text(), RoomID: "r_" + rand.Text()}
}
