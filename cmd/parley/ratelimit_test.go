package main

import (
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/server"
)

// TestSendRateLimited checks what `parley send` does over the send limit:
// a short delay is waited out and the message sent again (once, under the
// same client message id), a long one is reported with when to retry.
func TestSendRateLimited(t *testing.T) {
	t.Parallel()
	limited := func(per time.Duration) *user {
		srv := testserver.Start(t, server.WithLimits(server.Limits{
			SendsPerUser: server.Rate{Events: 1, Per: per, Burst: 1},
		}))
		u := newUser(t, srv.URL)
		u.signup("ada")
		u.ok("rooms", "create", "general")
		return u
	}

	short := limited(300 * time.Millisecond)
	short.ok("send", "general", "first")
	start := time.Now()
	out, errOut, err := short.run(testContext(t), "", "send", "general", "second")
	if err != nil {
		t.Fatalf("second send: %v\n%s", err, errOut)
	}
	t.Logf("over a 1/300ms limit: %q on stderr, sent after %v", strings.TrimSpace(errOut), time.Since(start).Round(time.Millisecond))
	contains(t, errOut, "rate limited: sending again in")
	contains(t, out, "second")
	if history := short.ok("history", "general"); strings.Count(history, "second") != 1 {
		t.Errorf("history after the retried send:\n%s", history)
	}

	long := limited(time.Minute)
	long.ok("send", "general", "first")
	msg := long.fails("send", "general", "second")
	t.Logf("over a 1/minute limit: %s", msg)
	contains(t, msg, "too many messages")
	contains(t, msg, "try again in 1m0s")
}
