package server_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/parley-chat/parley/gen/helloworld"
	"github.com/parley-chat/parley/gen/helloworld/helloworldconnect"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/server"
)

// TestCallObserver: an observer sees every call's procedure, protocol,
// codec and code on every protocol, codec and transport, with no logger
// at all (nothing depends on the log level).
func TestCallObserver(t *testing.T) {
	t.Parallel()
	calls := make(chan server.CallInfo, 64)
	srv := testserver.Start(t, server.WithCallObserver(func(_ context.Context, c server.CallInfo) { calls <- c }))
	next := func(t *testing.T) server.CallInfo {
		t.Helper()
		select {
		case c := <-calls:
			return c
		case <-time.After(5 * time.Second):
			t.Fatal("no call observed")
			return server.CallInfo{}
		}
	}
	for _, c := range srv.Clients() {
		greeter := helloworldconnect.NewGreeterClient(c.Client, c.BaseURL, c.Options...)
		if _, err := greeter.SayHello(t.Context(), connect.NewRequest(&helloworld.HelloRequest{Name: "observed"})); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		got := next(t)
		if got.Procedure != helloworldconnect.GreeterSayHelloProcedure || got.Protocol != c.Protocol || got.Codec != c.Codec || got.Code != "ok" ||
			got.Status != 200 || got.BytesIn == 0 || got.BytesOut == 0 || got.Duration <= 0 {
			t.Errorf("%s: observed %+v", c.Name, got)
		}
		auth := parleyv1connect.NewAuthServiceClient(c.Client, c.BaseURL, c.Options...)
		if _, err := auth.GetMe(t.Context(), connect.NewRequest(&parleyv1.GetMeRequest{})); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("%s: GetMe without token: %v", c.Name, err)
		}
		if got := next(t); got.Procedure != parleyv1connect.AuthServiceGetMeProcedure || got.Code != "unauthenticated" {
			t.Errorf("%s: observed %+v, want GetMe unauthenticated", c.Name, got)
		}
	}
}
