package client_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/client"
)

// TestSubscribeSurvivesRestart restarts the server under a subscription,
// gracefully and abruptly, while messages keep being sent, and expects
// every message exactly once, in seq order.
func TestSubscribeSurvivesRestart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		abrupt bool
		opts   []client.Option
	}{
		{"Graceful", false, nil},
		{"Abrupt", true, nil},
		{"GRPCAbrupt", true, []client.Option{client.WithProtocol(client.ProtocolGRPC)}},
		{"GRPCWebJSONGraceful", false, []client.Option{client.WithProtocol(client.ProtocolGRPCWeb), client.WithCodec(client.CodecJSON)}},
		{"HTTP1Abrupt", true, []client.Option{client.WithHTTP1()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startRestartable(t)
			ctx := testContext(t)
			opts := append([]client.Option{client.WithBackoff(20*time.Millisecond, 200*time.Millisecond)}, tc.opts...)
			c := mustClient(t, srv.URL(), opts...)
			room := signUpInRoom(t, ctx, c, "ada", "general")
			sub := c.Subscribe(ctx, room.ID, 0)
			defer sub.Close()
			got := make(chan int64, 100)
			go func() {
				defer close(got)
				for sub.Receive() {
					if ev := sub.Event(); ev.Kind == parley.EventMessage {
						got <- ev.Seq
					}
				}
			}()
			const n = 10
			for i := 1; i <= n; i++ {
				if i == 4 || i == 8 {
					srv.restart(tc.abrupt)
				}
				if _, err := c.SendMessage(ctx, room.ID, fmt.Sprintf("m%d", i)); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			for want := int64(1); want <= n; want++ {
				select {
				case seq, ok := <-got:
					if !ok {
						t.Fatalf("subscription ended: %v", sub.Err())
					}
					if seq != want {
						t.Fatalf("got seq %d, want %d", seq, want)
					}
				case <-ctx.Done():
					t.Fatalf("waiting for seq %d: %v", want, ctx.Err())
				}
			}
			sub.Close()
			for seq := range got {
				t.Errorf("extra seq %d", seq)
			}
		})
	}
}

// TestSubscribeEndsOnPermanentErrors checks that a subscription is not
// retried when the server refuses it for good.
func TestSubscribeEndsOnPermanentErrors(t *testing.T) {
	t.Parallel()
	srv := startRestartable(t)
	ctx := testContext(t)
	c := mustClient(t, srv.URL())
	signUp(t, ctx, c, "ada")
	sub := c.Subscribe(ctx, "r_nope", 0)
	if sub.Receive() {
		t.Fatal("received from a room that does not exist")
	}
	wantCode(t, sub.Err(), parley.ENOTFOUND)
	room, _ := c.CreateRoom(ctx, "general", parley.Public)
	sub = c.Subscribe(ctx, room.ID, 5)
	if sub.Receive() {
		t.Fatal("received beyond the head")
	}
	wantCode(t, sub.Err(), parley.EOUTOFRANGE)
}
