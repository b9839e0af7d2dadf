package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/client"
	"github.com/parley-chat/parley/internal/testserver"
)

// skipUnimplemented skips while the server does not serve the RPC yet.
func skipUnimplemented(t *testing.T, err error) {
	t.Helper()
	if parley.ErrorCodeOf(err) == parley.ENOTIMPLEMENTED {
		t.Skipf("server does not implement it yet: %v", err)
	}
}

// TestChat has two users chat over every protocol and codec that can
// carry a bidirectional stream (HTTP/2: h2c and TLS).
func TestChat(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	for name, c := range newClients(t, srv) {
		if strings.HasSuffix(name, "/http1") { // bidi needs HTTP/2
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			user := fmt.Sprintf("a%x", len(name)) + fmt.Sprint(time.Now().UnixNano()%1e9)
			room := signUpInRoom(t, ctx, c, user, "chat-"+user)
			if _, err := c.SendMessage(ctx, room.ID, "before"); err != nil {
				t.Fatal(err)
			}
			ch := openChat(t, ctx, c)
			head, err := ch.Join(ctx, room.ID, 0)
			skipUnimplemented(t, err)
			if err != nil || head != 1 {
				t.Fatalf("Join = %d, %v", head, err)
			}
			msg, err := ch.Send(ctx, room.ID, "over the stream")
			if err != nil || msg.Seq != 2 || msg.Text != "over the stream" {
				t.Fatalf("Send = %+v, %v", msg, err)
			}
			_, err = ch.Send(ctx, room.ID, " ")
			wantCode(t, err, parley.EINVALID)
			for _, want := range []string{"before", "over the stream"} {
				ev := nextMessage(t, ch)
				if ev.Message.Text != want {
					t.Fatalf("got %q, want %q", ev.Message.Text, want)
				}
			}
		})
	}
}

func nextMessage(t *testing.T, ch *client.Chat) *parley.Event {
	t.Helper()
	for ch.Receive() {
		if ev := ch.Event(); ev.Event != nil && ev.Event.Kind == parley.EventMessage {
			return ev.Event
		}
	}
	t.Fatalf("chat ended: %v", ch.Err())
	return nil
}

// openChat opens a chat on c, closed when the test ends.
func openChat(t *testing.T, ctx context.Context, c *client.Client) *client.Chat {
	t.Helper()
	ch, err := c.Chat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.Close() })
	return ch
}

// joinChat is openChat joined to a room from its first event.
func joinChat(t *testing.T, ctx context.Context, c *client.Client, roomID string) *client.Chat {
	t.Helper()
	ch := openChat(t, ctx, c)
	_, err := ch.Join(ctx, roomID, 0)
	skipUnimplemented(t, err)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// TestChatSurvivesRestart restarts the server under a chat and expects the
// chat to rejoin by itself, deliver each message once and keep sending.
func TestChatSurvivesRestart(t *testing.T) {
	t.Parallel()
	for _, abrupt := range []bool{false, true} {
		t.Run(fmt.Sprintf("abrupt=%v", abrupt), func(t *testing.T) {
			t.Parallel()
			srv := startRestartable(t)
			ctx := testContext(t)
			c := mustClient(t, srv.URL(), client.WithBackoff(20*time.Millisecond, 200*time.Millisecond))
			room := signUpInRoom(t, ctx, c, "ada", "general")
			ch := joinChat(t, ctx, c, room.ID)
			for i := 1; i <= 6; i++ {
				if i == 4 {
					srv.restart(abrupt)
				}
				sendCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
				_, err := ch.Send(sendCtx, room.ID, fmt.Sprintf("m%d", i))
				cancel()
				if err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			for i := int64(1); i <= 6; i++ {
				if ev := nextMessage(t, ch); ev.Seq != i {
					t.Fatalf("got seq %d, want %d", ev.Seq, i)
				}
			}
		})
	}
}

// TestChatEndsWithContext checks that canceling the context ends a chat at
// once, not at the server's next heartbeat.
func TestChatEndsWithContext(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	ctx := testContext(t)
	c := mustClient(t, srv.URL)
	room := signUpInRoom(t, ctx, c, "ada", "general")
	chatCtx, cancel := context.WithCancel(ctx)
	ch := joinChat(t, chatCtx, c, room.ID)
	start := time.Now()
	cancel()
	for ch.Receive() {
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("chat ended %v after cancel", took)
	}
	if err := ch.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("Err = %v, want context.Canceled", err)
	}
}

// TestChatOverHTTP1 checks both ways a bidirectional stream meets HTTP/1.1:
// refused by the client when configured so, and the server's 505 when an
// HTTP/1.1-only transport is forced on it.
func TestChatOverHTTP1(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	ctx := testContext(t)
	_, err := mustClient(t, srv.URL, client.WithHTTP1()).Chat(ctx)
	wantCode(t, err, parley.ENOTIMPLEMENTED)

	c := mustClient(t, srv.URL, client.WithHTTPClient(testserver.HTTP1Client()))
	room := signUpInRoom(t, ctx, c, "ada", "general")
	_, err = openChat(t, ctx, c).Join(ctx, room.ID, 0)
	if perr := wantCode(t, err, parley.ENOTIMPLEMENTED); !strings.Contains(perr.Message, "needs HTTP/2") {
		t.Errorf("message = %q", perr.Message)
	}
}
