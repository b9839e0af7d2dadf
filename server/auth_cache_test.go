package server_test

import (
	"bytes"
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/server"
)

// getMe calls GetMe with s and returns its error.
func getMe(t *testing.T, s testserver.Services) error {
	_, err := s.Auth.GetMe(testserver.Context(t), connect.NewRequest(&parleyv1.GetMeRequest{}))
	return err
}

// TestAuthCacheNoStoreRoundTrip: once a token and a membership were
// checked, authenticated calls and sends ask the store nothing about them.
func TestAuthCacheNoStoreRoundTrip(t *testing.T) {
	t.Parallel()
	var ops storeOps
	ts := testserver.Start(t, ops.observer())
	ada := testserver.SignUp(t, ts.Client(t, "connect/proto/h2c"), "ada")
	room := ada.CreateRoom(t, "lobby", parleyv1.Visibility_VISIBILITY_PUBLIC).GetId()
	ada.SendMessage(t, room, "first", "m0")
	ops.take()
	for i := range 10 {
		if err := getMe(t, ada.Services); err != nil {
			t.Fatal(err)
		}
		ada.SendMessage(t, room, "again", "m"+strconv.Itoa(i+1))
	}
	if got, want := ops.take(), map[string]int{"AppendMessage": 10}; !maps.Equal(got, want) {
		t.Errorf("store operations of 10 GetMe and 10 SendMessage = %v, want %v", got, want)
	}

	// Without the cache, every call reads the session, every send the
	// room and the membership.
	var uncached storeOps
	ts = testserver.Start(t, uncached.observer(), server.WithAuthCache(0, 0))
	ada = testserver.SignUp(t, ts.Client(t, "connect/proto/h2c"), "ada")
	room = ada.CreateRoom(t, "lobby", parleyv1.Visibility_VISIBILITY_PUBLIC).GetId()
	uncached.take()
	ada.SendMessage(t, room, "first", "m0")
	if got, want := uncached.take(), map[string]int{"AppendMessage": 1, "IsMember": 1, "RoomByID": 1, "SessionUser": 1}; !maps.Equal(got, want) {
		t.Errorf("store operations of one uncached SendMessage = %v, want %v", got, want)
	}
}

// TestAuthCacheInvalidatedAtOnce: a call made right after a sign-out, a
// leave or a token's expiry is refused, though the cache had just confirmed
// the session and the membership, over every client of the matrix.
func TestAuthCacheInvalidatedAtOnce(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Now()}
	// A TTL of an hour: only invalidation can explain a refusal.
	ts := testserver.Start(t, server.WithNow(clk.Now), server.WithAuthCache(time.Hour, 100), server.WithTokenTTL(time.Hour))
	owner := testserver.SignUp(t, ts.Client(t, "connect/proto/h2c"), "owner")
	room := owner.CreateRoom(t, "lobby", parleyv1.Visibility_VISIBILITY_PUBLIC).GetId()
	for i, c := range ts.Clients() {
		t.Run(c.Name, func(t *testing.T) {
			u := testserver.SignUp(t, c, "user"+strconv.Itoa(i))
			u.JoinRoom(t, room)
			u.SendMessage(t, room, "hi", "before-leave")
			if _, err := u.Rooms.LeaveRoom(testserver.Context(t), connect.NewRequest(&parleyv1.LeaveRoomRequest{RoomId: room})); err != nil {
				t.Fatalf("LeaveRoom: %v", err)
			}
			_, err := u.Messages.SendMessage(testserver.Context(t), connect.NewRequest(&parleyv1.SendMessageRequest{RoomId: room, Text: "hi", ClientMessageId: "after-leave"}))
			wantConnectCode(t, err, connect.CodePermissionDenied)
			u.JoinRoom(t, room) // a non-member is never cached: joining again works at once
			u.SendMessage(t, room, "back", "after-join")

			if err := getMe(t, u.Services); err != nil {
				t.Fatal(err)
			}
			if _, err := u.Auth.SignOut(testserver.Context(t), connect.NewRequest(&parleyv1.SignOutRequest{})); err != nil {
				t.Fatalf("SignOut: %v", err)
			}
			wantConnectCode(t, getMe(t, u.Services), connect.CodeUnauthenticated)
		})
	}

	t.Run("Expiry", func(t *testing.T) {
		if err := getMe(t, owner.Services); err != nil {
			t.Fatal(err)
		}
		clk.add(time.Hour)
		wantConnectCode(t, getMe(t, owner.Services), connect.CodeUnauthenticated)
	})
}

// TestAuthCacheTTL: a session deleted in the database directly, which no
// revocation announces, is still accepted from the cache until the TTL
// passed, then refused.
func TestAuthCacheTTL(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Now()}
	var ops storeOps
	ts := testserver.Start(t, server.WithNow(clk.Now), ops.observer())
	ada := testserver.SignUp(t, ts.Client(t, "connect/proto/h2c"), "ada")
	if err := getMe(t, ada.Services); err != nil {
		t.Fatal(err)
	}
	if err := ts.Store.DeleteSession(t.Context(), server.HashToken(ada.Token)); err != nil {
		t.Fatal(err)
	}
	clk.add(server.DefaultAuthCacheTTL - time.Nanosecond)
	if err := getMe(t, ada.Services); err != nil {
		t.Fatalf("GetMe within the TTL: %v, want the cached session", err)
	}
	clk.add(time.Nanosecond)
	wantConnectCode(t, getMe(t, ada.Services), connect.CodeUnauthenticated)
}

// TestAuthCacheHeartbeatShared: the heartbeat re-check of several streams
// of one token reads the session and the membership from the store once
// per heartbeat between them, not once per stream.
func TestAuthCacheHeartbeatShared(t *testing.T) {
	t.Parallel()
	const heartbeat = 20 * time.Millisecond
	clk := &clock{now: time.Now()}
	var ops storeOps
	ts := testserver.Start(t, server.WithNow(clk.Now), ops.observer(), server.WithHeartbeat(heartbeat))
	ada := testserver.SignUp(t, ts.Client(t, "connect/proto/h2c"), "ada")
	room := ada.CreateRoom(t, "lobby", parleyv1.Visibility_VISIBILITY_PUBLIC).GetId()

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	const streams = 4
	var subs []*connect.ServerStreamForClient[parleyv1.SubscribeResponse]
	for range streams {
		sub, err := ada.Messages.Subscribe(ctx, connect.NewRequest(&parleyv1.SubscribeRequest{RoomId: room}))
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		subs = append(subs, sub)
	}
	// waitHeartbeats waits for n heartbeats on every stream sent at or
	// after the clock's time now.
	waitHeartbeats := func(n int) {
		t.Helper()
		since := clk.Now()
		for _, sub := range subs {
			for seen := 0; seen < n; {
				if !sub.Receive() {
					t.Fatalf("stream ended: %v", sub.Err())
				}
				if hb := sub.Msg().GetHeartbeat(); hb != nil && !hb.GetTime().AsTime().Before(since) {
					seen++
				}
			}
		}
	}
	waitHeartbeats(1)
	// The clock moves past what a re-check trusts (the 2 s TTL, longer
	// than the heartbeat); then 5 heartbeats per stream.
	ops.take()
	clk.add(time.Minute)
	waitHeartbeats(5)
	got := ops.take()
	t.Logf("store operations of %d streams over 5 heartbeats each: %v", streams, got)
	// The first re-check after the move reads, the others find what it
	// read (not one read per stream per heartbeat: 20). Streams whose
	// first re-checks run at the same instant may each read once.
	for _, op := range []string{"SessionUser", "IsMember"} {
		if got[op] < 1 || got[op] > streams {
			t.Errorf("%s read %d times by %d streams' 5 re-checks each, want 1 to %d", op, got[op], streams, streams)
		}
	}
}

// TestAuthCacheHeartbeatFindsUnannounced: a session or a membership ended
// in the store directly, with no revocation, ends the streams that rely on
// it at the first heartbeat after what they trust (the TTL here, longer
// than the heartbeat) has passed, and not before.
func TestAuthCacheHeartbeatFindsUnannounced(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Now()}
	ts := testserver.Start(t, server.WithNow(clk.Now), server.WithHeartbeat(20*time.Millisecond))
	ada := testserver.SignUp(t, ts.Client(t, "connect/proto/h2c"), "ada")
	bob := testserver.SignUp(t, ts.Client(t, "connect/proto/h2c"), "bob")
	room := ada.CreateRoom(t, "lobby", parleyv1.Visibility_VISIBILITY_PUBLIC).GetId()
	bob.JoinRoom(t, room)

	for _, tc := range []struct {
		name string
		u    *testserver.User
		end  func() error
		want connect.Code
	}{
		{"Session", ada, func() error { return ts.Store.DeleteSession(t.Context(), server.HashToken(ada.Token)) }, connect.CodeUnauthenticated},
		{"Membership", bob, func() error { return ts.Store.RemoveMember(t.Context(), room, bob.User.GetId(), bob.User.GetId(), nil) }, connect.CodePermissionDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			sub, err := tc.u.Messages.Subscribe(ctx, connect.NewRequest(&parleyv1.SubscribeRequest{RoomId: room}))
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			heartbeats := func(n int) {
				t.Helper()
				for seen := 0; seen < n; {
					if !sub.Receive() {
						t.Fatalf("stream ended: %v", sub.Err())
					}
					if sub.Msg().GetHeartbeat() != nil {
						seen++
					}
				}
			}
			heartbeats(1)
			if err := tc.end(); err != nil {
				t.Fatal(err)
			}
			heartbeats(3) // the clock has not moved: the re-checks trust the cache
			clk.add(server.DefaultAuthCacheTTL)
			for sub.Receive() {
			}
			wantConnectCode(t, sub.Err(), tc.want)
		})
	}
}

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
	var ops storeOps
	ts := testserver.Start(b, append([]server.Option{ops.observer()}, opts...)...)
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
	ops.take()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		call(i)
		i++
	}
	total := 0
	for _, n := range ops.take() {
		total += n
	}
	b.ReportMetric(float64(total)/float64(b.N), "storeops/op")
}

// storeOps counts the store operations of a server by method, through
// parley.Observer.StoreOp.
type storeOps struct {
	mu  sync.Mutex
	ops map[string]int
}

func (o *storeOps) observer() server.Option {
	return server.WithObserver(&parley.Observer{StoreOp: func(ctx context.Context, op string) (context.Context, func(error)) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.ops == nil {
			o.ops = make(map[string]int)
		}
		o.ops[op]++
		return ctx, func(error) {}
	}})
}

// take returns the counts since the last take.
func (o *storeOps) take() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	ops := o.ops
	o.ops = nil
	return ops
}
