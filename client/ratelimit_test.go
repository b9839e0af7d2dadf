package client_test

import (
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/server"
)

// TestRateLimitedAndTooLarge checks the client's reading of the two kinds
// of resource_exhausted the server sends, on every protocol, codec and
// transport: a rate limit (with google.rpc.RetryInfo, or retry_delay in a
// ChatError) is ERATELIMITED with RetryAfter, a message over the size
// limit is ETOOLARGE without one.
func TestRateLimitedAndTooLarge(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t, server.WithReadMaxBytes(1024), server.WithLimits(server.Limits{
		SendsPerUser: server.Rate{Events: 1, Per: time.Minute, Burst: 2},
	}))
	for name, c := range newClients(t, srv) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			room := signUpInOwnRoom(t, ctx, c, "rl", name)

			_, err := c.SendMessage(ctx, room.ID, strings.Repeat("x", 2000))
			if perr := wantCode(t, err, parley.ETOOLARGE); perr.RetryAfter != 0 {
				t.Errorf("too large: RetryAfter = %v, want 0", perr.RetryAfter)
			}
			for i := range 2 {
				if _, err := c.SendMessage(ctx, room.ID, "hi"); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			_, err = c.SendMessage(ctx, room.ID, "one too many")
			perr := wantCode(t, err, parley.ERATELIMITED)
			if perr.RetryAfter <= 0 || perr.RetryAfter > time.Minute {
				t.Errorf("SendMessage: RetryAfter = %v, want in (0, 1m]", perr.RetryAfter)
			}
			t.Logf("%s: SendMessage over the limit: %s, RetryAfter %v (%q)", name, perr.Code, perr.RetryAfter, perr.Message)

			if strings.HasSuffix(name, "/http1") { // Chat needs HTTP/2
				return
			}
			ch, err := c.Chat(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer ch.Close()
			_, err = ch.Send(ctx, room.ID, "over the stream")
			skipUnimplemented(t, err)
			perr = wantCode(t, err, parley.ERATELIMITED)
			if perr.RetryAfter <= 0 || perr.RetryAfter > time.Minute {
				t.Errorf("Chat: RetryAfter = %v, want in (0, 1m]", perr.RetryAfter)
			}
			t.Logf("%s: Chat send over the limit: %s, RetryAfter %v (%q)", name, perr.Code, perr.RetryAfter, perr.Message)
		})
	}
}
