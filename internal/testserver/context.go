package testserver

import (
	"context"
	"testing"
	"time"
)

// deadlineMargin is how long before the test binary's -timeout a Context
// ends, so the test fails with its own message (and the figures it logs)
// rather than with go test's panic and goroutine dump.
const deadlineMargin = 10 * time.Second

// Context returns a context that ends when the test ends or shortly before
// the test binary's deadline (go test -timeout, 10 minutes by default), which
// is what long ledger-style tests should wait under: a fixed short timeout
// fails on a loaded machine or under -race although nothing is wrong.
// Without a deadline (-timeout 0) it ends only with the test.
func Context(t testing.TB) context.Context {
	t.Helper()
	ctx := t.Context()
	if d, ok := deadlineOf(t); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-deadlineMargin))
		t.Cleanup(cancel)
	}
	return ctx
}

func deadlineOf(t testing.TB) (time.Time, bool) {
	if dt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		return dt.Deadline()
	}
	return time.Time{}, false
}
