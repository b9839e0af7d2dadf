package parley_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/parley-chat/parley"
)

type observerKey struct{}

// TestJoinObserversNests: joined StoreOps start in order, each in the
// context the one before returned, and finish in reverse with the
// operation's error; fields no observer sets stay nil.
func TestJoinObserversNests(t *testing.T) {
	t.Parallel()
	var calls []string
	storeOp := func(name string) func(context.Context, string) (context.Context, func(error)) {
		return func(ctx context.Context, op string) (context.Context, func(error)) {
			parent, _ := ctx.Value(observerKey{}).(string)
			calls = append(calls, "start "+name+" "+op+" in "+parent)
			return context.WithValue(ctx, observerKey{}, name), func(err error) { calls = append(calls, "done "+name+" "+err.Error()) }
		}
	}
	joined := parley.JoinObservers(&parley.Observer{StoreOp: storeOp("metrics")}, nil, &parley.Observer{StoreOp: storeOp("traces")})
	ctx, done := joined.StoreOp(context.Background(), "AppendMessage")
	if got, _ := ctx.Value(observerKey{}).(string); got != "traces" {
		t.Errorf("the operation runs in %q's context, want traces'", got)
	}
	done(errors.New("boom"))
	want := []string{"start metrics AppendMessage in ", "start traces AppendMessage in metrics", "done traces boom", "done metrics boom"}
	if !slices.Equal(calls, want) {
		t.Errorf("calls = %q, want %q", calls, want)
	}
	if joined.Publish != nil || joined.Commit != nil {
		t.Error("a point no observer watches is observed")
	}
}
