package client

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff is the wait between reconnects: from min, doubling up to max,
// each wait jittered to between half and all of it so that many clients
// cut off together do not come back together.
type backoff struct {
	min, max time.Duration
	next     time.Duration
}

func (c *Client) newBackoff() *backoff {
	return &backoff{min: c.cfg.minBackoff, max: c.cfg.maxBackoff, next: c.cfg.minBackoff}
}

// wait sleeps for the next interval or until ctx ends.
func (b *backoff) wait(ctx context.Context) error {
	d := b.next/2 + rand.N(b.next/2+1) //nolint:gosec // jitter, not a secret
	b.next = min(b.next*2, b.max)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// reset starts again from min, after a connection that worked.
func (b *backoff) reset() { b.next = b.min }
