package main

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/internal/pgtest"
	"github.com/parley-chat/parley/internal/testserver"
)

// revocationBound is how soon after a sign-out or a leave the affected
// streams must end, on every replica.
const revocationBound = time.Second

// TestRevocationReachesEveryReplica runs three parleyd processes on one
// PostgreSQL database: a sign-out on A ends that token's Subscribe and
// Chat streams on B and C with unauthenticated, and leaving a room on A
// ends the leaver's Subscribe of it on C with permission_denied and its
// Chat feed of it with a permission_denied error frame, each within 1 s
// (not at the 15 s heartbeat). It prints each stream's latency.
func TestRevocationReachesEveryReplica(t *testing.T) {
	t.Parallel()
	_, db := pgtest.Schema(t, 8)
	replicas := startReplicas(t, "revoke", 3, db)
	testRevocation(t, replicas[0].url(), replicas[1].url(), replicas[2].url())
}

// TestRevocationSingleProcess is the same on one parleyd over SQLite: A, B
// and C are one process.
func TestRevocationSingleProcess(t *testing.T) {
	t.Parallel()
	_, url := startChild(t, t.TempDir(), "--limit-sends-per-user", "off")
	testRevocation(t, url, url, url)
}

func testRevocation(t *testing.T, a, b, c string) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	alice := testserver.SignUp(t, testserver.H2C(a), "alice")
	bob := testserver.SignUp(t, testserver.H2C(a), "bob")
	room := alice.CreateRoom(t, "revoked", parleyv1.Visibility_VISIBILITY_PUBLIC).GetId()
	bob.JoinRoom(t, room)

	// Alice's streams on B and C, bob's on C.
	var streams []*revocable
	for _, url := range []string{b, c} {
		u := alice.Via(testserver.H2C(url))
		streams = append(streams, openSubscribe(ctx, t, "alice Subscribe on "+url, u, room), openChat(ctx, t, "alice Chat on "+url, u, room))
	}
	bobC := bob.Via(testserver.H2C(c))
	bobs := []*revocable{openSubscribe(ctx, t, "bob Subscribe on "+c, bobC, room), openChat(ctx, t, "bob Chat on "+c, bobC, room)}
	// A message sent on A reaches every stream: each replica's broker
	// listens, so a revocation sent now is heard.
	alice.SendMessage(t, room, "hello", "m1")
	for _, s := range append(streams, bobs...) {
		s.waitMessage(t)
	}

	start := time.Now()
	if _, err := alice.Auth.SignOut(ctx, connect.NewRequest(&parleyv1.SignOutRequest{})); err != nil {
		t.Fatalf("SignOut: %v", err)
	}
	for _, s := range streams {
		s.wantEnd(t, start, "the revocation", connect.CodeUnauthenticated)
	}

	start = time.Now()
	if _, err := bob.Rooms.LeaveRoom(ctx, connect.NewRequest(&parleyv1.LeaveRoomRequest{RoomId: room})); err != nil {
		t.Fatalf("LeaveRoom: %v", err)
	}
	for _, s := range bobs {
		s.wantEnd(t, start, "the revocation", connect.CodePermissionDenied)
	}
}

// TestAuthCacheAcrossReplicas runs two parleyd processes on one PostgreSQL
// database. Each keeps the sessions and memberships it checked for 2 s
// (the auth cache's TTL): a token signed out on A is refused by A's next
// call and by B within 1 s, and a member who left a room on A can no
// longer send to it through B within 1 s, although B had just checked
// both. It prints how soon B refused.
func TestAuthCacheAcrossReplicas(t *testing.T) {
	t.Parallel()
	_, db := pgtest.Schema(t, 8)
	replicas := startReplicas(t, "authcache", 2, db)
	a, b := testserver.H2C(replicas[0].url()), testserver.H2C(replicas[1].url())
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	alice := testserver.SignUp(t, a, "alice")
	bob := testserver.SignUp(t, a, "bob")
	room := alice.CreateRoom(t, "cached", parleyv1.Visibility_VISIBILITY_PUBLIC).GetId()
	bob.JoinRoom(t, room)
	aliceB, bobB := alice.Via(b), bob.Via(b)
	getMe := func(u *testserver.User) error {
		_, err := u.Auth.GetMe(ctx, connect.NewRequest(&parleyv1.GetMeRequest{}))
		return err
	}
	sends := 0
	send := func(u *testserver.User) error {
		sends++
		_, err := u.Messages.SendMessage(ctx, connect.NewRequest(&parleyv1.SendMessageRequest{RoomId: room, Text: "hi", ClientMessageId: fmt.Sprint("m", sends)}))
		return err
	}

	for _, u := range []*testserver.User{alice, aliceB} {
		if err := getMe(u); err != nil {
			t.Fatalf("GetMe: %v", err)
		}
	}
	start := time.Now()
	if _, err := alice.Auth.SignOut(ctx, connect.NewRequest(&parleyv1.SignOutRequest{})); err != nil {
		t.Fatalf("SignOut: %v", err)
	}
	if got := connect.CodeOf(getMe(alice)); got != connect.CodeUnauthenticated {
		t.Errorf("GetMe on A right after signing out there: %v, want unauthenticated", got)
	}
	refusedWithin(t, "alice's GetMe on B", start, connect.CodeUnauthenticated, func() error { return getMe(aliceB) })

	if err := send(bobB); err != nil {
		t.Fatalf("SendMessage on B: %v", err)
	}
	start = time.Now()
	if _, err := bob.Rooms.LeaveRoom(ctx, connect.NewRequest(&parleyv1.LeaveRoomRequest{RoomId: room})); err != nil {
		t.Fatalf("LeaveRoom: %v", err)
	}
	if got := connect.CodeOf(send(bob)); got != connect.CodePermissionDenied {
		t.Errorf("SendMessage on A right after leaving there: %v, want permission_denied", got)
	}
	refusedWithin(t, "bob's SendMessage on B", start, connect.CodePermissionDenied, func() error { return send(bobB) })
}

// refusedWithin calls call until it fails with want, and fails the test if
// that takes longer than revocationBound after start or it fails otherwise.
func refusedWithin(t *testing.T, name string, start time.Time, want connect.Code, call func() error) {
	t.Helper()
	for {
		err := call()
		took := time.Since(start)
		switch got := connect.CodeOf(err); {
		case err != nil && got == want:
			t.Logf("%s refused %v after the revocation", name, took.Round(time.Microsecond))
			return
		case err != nil:
			t.Fatalf("%s: %v, want %v", name, err, want)
		case took > revocationBound:
			t.Fatalf("%s still accepted %v after the revocation, want refused within %v", name, took, revocationBound)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// revocable is an open stream as the test sees it: a message arrived, or
// the stream (or, for Chat, its room) ended with an error.
type revocable struct {
	name     string
	messages chan struct{}
	ended    chan error
}

func newRevocable(name string) *revocable {
	return &revocable{name: name, messages: make(chan struct{}, 16), ended: make(chan error, 1)}
}

func openSubscribe(ctx context.Context, t *testing.T, name string, u *testserver.User, room string) *revocable {
	t.Helper()
	s := newRevocable(name)
	stream, err := u.Messages.Subscribe(ctx, connect.NewRequest(&parleyv1.SubscribeRequest{RoomId: room}))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() { _ = stream.Close() })
	go func() {
		for stream.Receive() {
			if stream.Msg().GetMessage() != nil {
				s.messages <- struct{}{}
			}
		}
		s.ended <- stream.Err()
	}()
	return s
}

func openChat(ctx context.Context, t *testing.T, name string, u *testserver.User, room string) *revocable {
	t.Helper()
	s := newRevocable(name)
	stream := u.Messages.Chat(ctx)
	t.Cleanup(func() { _ = stream.CloseRequest(); _ = stream.CloseResponse() })
	if err := stream.Send(&parleyv1.ChatRequest{FrameId: "j", Frame: &parleyv1.ChatRequest_Join{Join: &parleyv1.ChatJoin{RoomId: room}}}); err != nil {
		t.Fatalf("%s: join: %v", name, err)
	}
	go func() {
		for {
			res, err := stream.Receive()
			switch {
			case err != nil:
				s.ended <- err
				return
			case res.GetMessage() != nil:
				s.messages <- struct{}{}
			case res.GetError() != nil && res.GetError().GetFrameId() == "":
				// The room's feed ended; the stream goes on.
				var c connect.Code
				if err := c.UnmarshalText([]byte(res.GetError().GetCode())); err != nil {
					s.ended <- fmt.Errorf("unknown code %q", res.GetError().GetCode())
					return
				}
				s.ended <- connect.NewError(c, errors.New(res.GetError().GetMessage()))
				return
			}
		}
	}()
	return s
}

func (s *revocable) waitMessage(t *testing.T) {
	t.Helper()
	select {
	case <-s.messages:
	case err := <-s.ended:
		t.Fatalf("%s ended before the first message: %v", s.name, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no message within 10 s", s.name)
	}
}

// wantEnd waits for s to end with want, not before at (what happened
// then: the revocation, or the token's expiry time) nor more than
// revocationBound after.
func (s *revocable) wantEnd(t *testing.T, at time.Time, what string, want connect.Code) {
	t.Helper()
	select {
	case err := <-s.ended:
		late := time.Since(at)
		t.Logf("%s ended %v after %s: %v", s.name, late.Round(time.Microsecond), what, err)
		if got := connect.CodeOf(err); got != want {
			t.Errorf("%s ended with %v (%v), want %v", s.name, got, err, want)
		}
		if late < -10*time.Millisecond || late > revocationBound {
			t.Errorf("%s ended %v after %s, want within [0, %v]", s.name, late, what, revocationBound)
		}
	case <-time.After(time.Until(at) + 10*time.Second):
		t.Errorf("%s still open 10 s after %s", s.name, what)
	}
}

// TestTokenExpiryEndsStreamsOnEveryReplica runs three replicas with
// --token-ttl 4s: a token signed up on A has Subscribe and Chat streams on
// B and C, and each ends with unauthenticated at the token's expiry time
// (a timer on every stream, not the heartbeat), within 1 s of it.
func TestTokenExpiryEndsStreamsOnEveryReplica(t *testing.T) {
	t.Parallel()
	_, db := pgtest.Schema(t, 8)
	replicas := startReplicas(t, "expiry", 3, db, "--token-ttl", "4s")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	res, err := testserver.H2C(replicas[0].url()).Services("").Auth.SignUp(ctx, connect.NewRequest(&parleyv1.SignUpRequest{Username: "ephemeral", Password: testserver.Password}))
	if err != nil {
		t.Fatal(err)
	}
	expires := res.Msg.GetExpireTime().AsTime()
	carol := &testserver.User{Services: testserver.H2C(replicas[0].url()).Services(res.Msg.GetToken()), User: res.Msg.GetUser(), Token: res.Msg.GetToken()}
	room := carol.CreateRoom(t, "expiring", parleyv1.Visibility_VISIBILITY_PUBLIC).GetId()
	var streams []*revocable
	for _, r := range replicas[1:] {
		u := carol.Via(testserver.H2C(r.url()))
		streams = append(streams, openSubscribe(ctx, t, "Subscribe on "+r.url(), u, room), openChat(ctx, t, "Chat on "+r.url(), u, room))
	}
	if time.Until(expires) < time.Second {
		t.Skipf("setting up took too long: the token expires in %v", time.Until(expires))
	}
	for _, s := range streams {
		s.wantEnd(t, expires, "the token's expiry time", connect.CodeUnauthenticated)
	}
}
