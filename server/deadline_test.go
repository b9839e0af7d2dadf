package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/server"
)

// slowProcedure is a test-only unary method that works until its context
// ends (or 10 s), mounted through server.WithService so it runs behind the
// production middleware and interceptors.
const slowProcedure = "/parley.test.v1.SlowService/Work"

func mountSlow(opts ...connect.HandlerOption) (string, http.Handler) {
	return slowProcedure, connect.NewUnaryHandler(slowProcedure,
		func(ctx context.Context, _ *connect.Request[emptypb.Empty]) (*connect.Response[emptypb.Empty], error) {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(10 * time.Second):
				return connect.NewResponse(&emptypb.Empty{}), nil
			}
		}, opts...)
}

// TestDeadlines: a client deadline shorter than the work ends the call with
// deadline_exceeded on every protocol and codec (grpc-timeout,
// connect-timeout-ms); without a client deadline the server's cap does.
func TestDeadlines(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t, server.WithService(mountSlow), server.WithMaxUnaryDuration(400*time.Millisecond))
	for _, c := range srv.Clients() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			client := connect.NewClient[emptypb.Empty, emptypb.Empty](c.Client, c.BaseURL+slowProcedure, c.Options...)
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			_, err := client.CallUnary(ctx, connect.NewRequest(&emptypb.Empty{}))
			if connect.CodeOf(err) != connect.CodeDeadlineExceeded {
				t.Errorf("client deadline: %v, want deadline_exceeded", err)
			}
			start := time.Now()
			_, err = client.CallUnary(context.Background(), connect.NewRequest(&emptypb.Empty{}))
			if connect.CodeOf(err) != connect.CodeDeadlineExceeded {
				t.Errorf("server cap: %v, want deadline_exceeded", err)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("capped call took %v", took)
			}
		})
	}
}
