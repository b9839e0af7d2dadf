package server

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestCapDeadline(t *testing.T) {
	t.Parallel()
	t.Run("NearerDeadlineKept", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if c := capDeadline(ctx, time.Minute); c != nil {
			t.Errorf("capDeadline = %v, want nil", c)
		}
	})
	t.Run("Deadline", func(t *testing.T) {
		t.Parallel()
		before := time.Now()
		c := capDeadline(context.Background(), time.Minute)
		defer c.release()
		d, ok := c.Deadline()
		if !ok || d.Before(before.Add(time.Minute)) || d.After(time.Now().Add(time.Minute)) {
			t.Errorf("Deadline() = %v, %v", d, ok)
		}
		if err := c.Err(); err != nil {
			t.Errorf("Err() = %v before the deadline", err)
		}
	})
	t.Run("ErrDeadlineExceeded", func(t *testing.T) {
		t.Parallel()
		// Passed before anyone waited: no timer was armed.
		c := capDeadline(context.Background(), -time.Millisecond)
		defer c.release()
		if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Err() = %v, want deadline exceeded", err)
		}
		select {
		case <-c.Done():
		default:
			t.Error("Done not closed although Err is set")
		}
	})
	t.Run("DoneAtDeadline", func(t *testing.T) {
		t.Parallel()
		c := capDeadline(context.Background(), 10*time.Millisecond)
		defer c.release()
		derived, cancel := context.WithCancel(context.WithValue(c, ctxKey{}, "v"))
		defer cancel()
		<-derived.Done()
		if !errors.Is(c.Err(), context.DeadlineExceeded) || !errors.Is(derived.Err(), context.DeadlineExceeded) {
			t.Errorf("Err() = %v, derived %v, want deadline exceeded", c.Err(), derived.Err())
		}
	})
	t.Run("ParentCanceled", func(t *testing.T) {
		t.Parallel()
		parent, cancel := context.WithCancelCause(context.WithValue(context.Background(), ctxKey{}, "v"))
		c := capDeadline(parent, time.Minute)
		defer c.release()
		done := c.Done()
		cause := errors.New("client went away")
		cancel(cause)
		<-done
		if !errors.Is(c.Err(), context.Canceled) || !errors.Is(context.Cause(c), cause) {
			t.Errorf("Err() = %v, Cause = %v", c.Err(), context.Cause(c))
		}
		if c.Value(ctxKey{}) != "v" {
			t.Error("parent's value lost")
		}
	})
	t.Run("ParentCanceledBeforeDone", func(t *testing.T) {
		t.Parallel()
		parent, cancel := context.WithCancel(context.Background())
		c := capDeadline(parent, time.Minute)
		defer c.release()
		cancel()
		if !errors.Is(c.Err(), context.Canceled) {
			t.Errorf("Err() = %v, want canceled", c.Err())
		}
		<-c.Done()
	})
	t.Run("Released", func(t *testing.T) {
		t.Parallel()
		c := capDeadline(context.Background(), time.Minute)
		done := c.Done()
		c.release()
		<-done
		if !errors.Is(c.Err(), context.Canceled) {
			t.Errorf("Err() = %v after release, want canceled", c.Err())
		}
	})
}

type ctxKey struct{}
