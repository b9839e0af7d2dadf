package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// capDeadline returns ctx with a deadline maxDur away, to be released when
// the call ends, or nil when ctx already has a deadline at least as near.
//
// context.WithTimeout would arm a runtime timer and cost seven allocations
// per call (the timer context, its timer and closures, the parent's child
// map and done channel), yet many unary calls never wait on their context:
// Greeter, health, anything answered from memory. So the timer is armed
// only when Done is first asked for, as every waiter (select, database/sql,
// a derived context) does; Deadline and Err answer without it.
func capDeadline(ctx context.Context, maxDur time.Duration) *cappedContext {
	deadline := time.Now().Add(maxDur)
	if d, ok := ctx.Deadline(); ok && !d.After(deadline) {
		return nil
	}
	return &cappedContext{Context: ctx, deadline: deadline}
}

// cappedContext is its parent with a deadline, armed on first use of Done.
type cappedContext struct {
	context.Context // the parent
	deadline        time.Time

	mu    sync.Mutex // serialises arming
	armed atomic.Pointer[armedDeadline]
}

type armedDeadline struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func (c *cappedContext) arm() *armedDeadline {
	if a := c.armed.Load(); a != nil {
		return a
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.armed.Load(); a != nil {
		return a
	}
	a := new(armedDeadline)
	a.ctx, a.cancel = context.WithDeadline(c.Context, c.deadline)
	c.armed.Store(a)
	return a
}

func (c *cappedContext) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *cappedContext) Done() <-chan struct{} { return c.arm().ctx.Done() }

// Err agrees with Done: when the parent has ended or the deadline has
// passed, arming yields an already closed Done with the same error.
func (c *cappedContext) Err() error {
	if a := c.armed.Load(); a != nil {
		return a.ctx.Err()
	}
	if err := c.Context.Err(); err != nil {
		return err
	}
	if time.Now().Before(c.deadline) {
		return nil
	}
	return c.arm().ctx.Err()
}

// Value goes through the armed context once there is one, so that contexts
// derived from this one attach to its cancellation directly (the context
// package looks up its own key after calling Done) instead of needing a
// goroutine each.
func (c *cappedContext) Value(key any) any {
	if a := c.armed.Load(); a != nil {
		return a.ctx.Value(key)
	}
	return c.Context.Value(key)
}

// release frees the timer, if one was armed. A context armed later is still
// ended by its parent, which net/http cancels when the request ends.
func (c *cappedContext) release() {
	if a := c.armed.Load(); a != nil {
		a.cancel()
	}
}
