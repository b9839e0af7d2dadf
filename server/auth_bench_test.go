package server_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/server"
)

// BenchmarkAuthenticatedCall makes authenticated unary calls as Connect
// proto in process, through server.New over SQLite (testserver): GetMe,
// which does nothing but authenticate, and SendMessage to a room of the
// caller's (a durable send). "cached" is the default server; "nocache"
// has server.WithAuthCache(0, 0), which checks the session and the
// membership in the store on every call. Each reports storeops/op, the
// store operations per call counted through parley.Observer.StoreOp.
// Wall-clock ns/op is noise on a shared machine; count instructions under
// callgrind instead (bench/callgrind.sh, docs/BENCHMARKS.md "Cached auth").
func BenchmarkAuthenticatedCall(b *testing.B) {
	for _, cache := range []struct {
		name string
		opts []server.Option
	}{
		{"cached", nil},
		{"nocache", []server.Option{server.WithAuthCache(0, 0)}},
	} {
		b.Run("GetMe/"+cache.name, func(b *testing.B) {
			benchmarkAuthenticated(b, cache.opts, parleyv1connect.AuthServiceGetMeProcedure, func(string, int) proto.Message {
				return &parleyv1.GetMeRequest{}
			})
		})
		b.Run("SendMessage/"+cache.name, func(b *testing.B) {
			benchmarkAuthenticated(b, cache.opts, parleyv1connect.MessageServiceSendMessageProcedure, func(room string, i int) proto.Message {
				return &parleyv1.SendMessageRequest{RoomId: room, Text: "hello", ClientMessageId: "m" + strconv.Itoa(i)}
			})
		})
	}
}

// benchmarkAuthenticated calls procedure b.N times as a signed-up member
// of a room, with the request msg(room, i) for the i-th call.
func benchmarkAuthenticated(b *testing.B, opts []server.Option, procedure string, msg func(room string, i int) proto.Message) {
	var ops atomic.Int64
	counted := &parley.Observer{StoreOp: func(ctx context.Context, _ string) (context.Context, func(error)) {
		ops.Add(1)
		return ctx, func(error) {}
	}}
	ts := testserver.Start(b, append([]server.Option{server.WithObserver(counted)}, opts...)...)
	ada := testserver.SignUp(b, ts.Client(b, "connect/proto/h2c"), "ada")
	room := ada.CreateRoom(b, "bench", parleyv1.Visibility_VISIBILITY_PUBLIC).GetId()
	call := func(i int) {
		body, err := proto.Marshal(msg(room, i))
		if err != nil {
			b.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, procedure, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/proto")
		r.Header.Set("Authorization", "Bearer "+ada.Token)
		w := httptest.NewRecorder()
		ts.Handler.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code, w.Body.String())
		}
	}
	call(-1) // the first call fills what is cached
	ops.Store(0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		call(i)
		i++
	}
	b.ReportMetric(float64(ops.Load())/float64(b.N), "storeops/op")
}
