package server_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/internal/testserver"
)

// rpcProtocols are the client configurations every case runs over:
// each protocol with the proto codec, and JSON for the two protocols
// browsers speak, all over h2c.
var rpcProtocols = []string{
	"connect/json/h2c",
	"connect/proto/h2c",
	"grpc/proto/h2c",
	"grpcweb/proto/h2c",
	"grpcweb/json/h2c",
}

// rpcTimeout bounds each case, so a missing event fails instead of hanging.
const rpcTimeout = 30 * time.Second

// rpcCase is one row of the table run against every protocol.
type rpcCase struct {
	name string
	run  func(t *testing.T, f *rpcFixture)
}

// TestEveryRPC runs every RPC of AuthService, RoomService and
// MessageService except the Chat stream, checking responses and each
// documented error code end to end: one table, one server per protocol.
func TestEveryRPC(t *testing.T) {
	t.Parallel()
	for _, protocol := range rpcProtocols {
		t.Run(protocol, func(t *testing.T) {
			t.Parallel()
			f := newRPCFixture(t, protocol)
			for _, tc := range rpcCases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					cf := *f
					cf.prefix = tc.name
					cf.ctx = rpcContext(t)
					tc.run(t, &cf)
				})
			}
		})
	}
}

var rpcCases = []rpcCase{
	// AuthService.
	{"SignUpOK", func(t *testing.T, f *rpcFixture) {
		before := time.Now()
		res, err := f.anon.Auth.SignUp(f.ctx, connect.NewRequest(&parleyv1.SignUpRequest{Username: "dave_1.x-y", Password: testserver.Password}))
		if err != nil {
			t.Fatalf("SignUp: %v", err)
		}
		u := res.Msg.GetUser()
		if u.GetUsername() != "dave_1.x-y" || u.GetId() == "" || u.GetCreateTime() == nil {
			t.Errorf("user = %v, want username dave_1.x-y with id and create_time", u)
		}
		if res.Msg.GetToken() == "" {
			t.Fatal("no token")
		}
		// Tokens live 30 days by default.
		if exp := res.Msg.GetExpireTime().AsTime(); exp.Before(before.Add(29 * 24 * time.Hour)) {
			t.Errorf("expire_time = %v, want about 30 days from now", exp)
		}
		if me := f.getMe(t, f.client.Services(res.Msg.GetToken())); me.GetId() != u.GetId() {
			t.Errorf("GetMe with the new token = %v, want %v", me, u)
		}
	}},
	{"SignUpErrAlreadyExists", func(t *testing.T, f *rpcFixture) {
		_, err := f.anon.Auth.SignUp(f.ctx, connect.NewRequest(&parleyv1.SignUpRequest{Username: f.alice.User.GetUsername(), Password: testserver.Password}))
		wantConnectCode(t, err, connect.CodeAlreadyExists)
	}},
	{"SignUpErrInvalid", func(t *testing.T, f *rpcFixture) {
		for _, tc := range []struct {
			username, password string
			fields             []string
		}{
			{"Not Valid!", "short", []string{"username", "password"}},
			{"ab", testserver.Password, []string{"username"}},
			{"Upper", testserver.Password, []string{"username"}},
			{"_leading", testserver.Password, []string{"username"}},
			{strings.Repeat("a", 33), testserver.Password, []string{"username"}},
			{"erin", "1234567", []string{"password"}},
			{"erin", strings.Repeat("p", 129), []string{"password"}},
		} {
			_, err := f.anon.Auth.SignUp(f.ctx, connect.NewRequest(&parleyv1.SignUpRequest{Username: tc.username, Password: tc.password}))
			wantFieldViolations(t, err, tc.fields...)
		}
	}},
	{"SignInOK", func(t *testing.T, f *rpcFixture) {
		// A stale token does not stand in the way of signing in again.
		stale := f.client.Services("pt_stale")
		res, err := stale.Auth.SignIn(f.ctx, connect.NewRequest(&parleyv1.SignInRequest{Username: f.alice.User.GetUsername(), Password: testserver.Password}))
		if err != nil {
			t.Fatalf("SignIn: %v", err)
		}
		if res.Msg.GetUser().GetId() != f.alice.User.GetId() || res.Msg.GetExpireTime() == nil {
			t.Errorf("SignIn = %v, want alice with expire_time", res.Msg)
		}
		if tok := res.Msg.GetToken(); tok == "" || tok == f.alice.Token {
			t.Errorf("token = %q, want a new one", tok)
		}
		if me := f.getMe(t, f.client.Services(res.Msg.GetToken())); me.GetId() != f.alice.User.GetId() {
			t.Errorf("GetMe = %v, want alice", me)
		}
	}},
	{"SignInErrWrongPassword", func(t *testing.T, f *rpcFixture) {
		_, err := f.anon.Auth.SignIn(f.ctx, connect.NewRequest(&parleyv1.SignInRequest{Username: f.alice.User.GetUsername(), Password: testserver.Password + "!"}))
		wantConnectCode(t, err, connect.CodeUnauthenticated)
	}},
	{"SignInErrUnknownUser", func(t *testing.T, f *rpcFixture) {
		for _, username := range []string{"nobody", "Not Even Valid", strings.Repeat("n", 200)} {
			_, err := f.anon.Auth.SignIn(f.ctx, connect.NewRequest(&parleyv1.SignInRequest{Username: username, Password: testserver.Password}))
			wantConnectCode(t, err, connect.CodeUnauthenticated)
		}
	}},
	{"GetMeOK", func(t *testing.T, f *rpcFixture) {
		me := f.getMe(t, f.bob.Services)
		if me.GetId() != f.bob.User.GetId() || me.GetUsername() != f.bob.User.GetUsername() || me.GetCreateTime() == nil {
			t.Errorf("GetMe = %v, want %v", me, f.bob.User)
		}
	}},
	{"GetMeErrNoToken", func(t *testing.T, f *rpcFixture) {
		_, err := f.anon.Auth.GetMe(f.ctx, connect.NewRequest(&parleyv1.GetMeRequest{}))
		wantConnectCode(t, err, connect.CodeUnauthenticated)
	}},
	{"GetMeErrGarbageToken", func(t *testing.T, f *rpcFixture) {
		for _, token := range []string{"garbage", "pt_garbage", "pt_" + strings.Repeat("x", 200), f.alice.Token + "x"} {
			_, err := f.client.Services(token).Auth.GetMe(f.ctx, connect.NewRequest(&parleyv1.GetMeRequest{}))
			wantConnectCode(t, err, connect.CodeUnauthenticated)
		}
	}},
	{"SignOutRevokesToken", func(t *testing.T, f *rpcFixture) {
		session := f.client.Services(f.signIn(t, f.carol))
		if _, err := session.Auth.SignOut(f.ctx, connect.NewRequest(&parleyv1.SignOutRequest{})); err != nil {
			t.Fatalf("SignOut: %v", err)
		}
		_, err := session.Auth.GetMe(f.ctx, connect.NewRequest(&parleyv1.GetMeRequest{}))
		wantConnectCode(t, err, connect.CodeUnauthenticated)
		_, err = session.Auth.SignOut(f.ctx, connect.NewRequest(&parleyv1.SignOutRequest{}))
		wantConnectCode(t, err, connect.CodeUnauthenticated)
		// Only that session ended.
		if me := f.getMe(t, f.carol.Services); me.GetId() != f.carol.User.GetId() {
			t.Errorf("GetMe with carol's other token = %v", me)
		}
	}},

	// RoomService.
	{"CreateRoomOK", func(t *testing.T, f *rpcFixture) {
		before := time.Now().Add(-time.Second)
		res, err := f.alice.Rooms.CreateRoom(f.ctx, connect.NewRequest(&parleyv1.CreateRoomRequest{Name: f.roomName("pub")}))
		if err != nil {
			t.Fatalf("CreateRoom: %v", err)
		}
		r := res.Msg.GetRoom()
		if r.GetId() == "" || r.GetName() != f.roomName("pub") || r.GetCreatorId() != f.alice.User.GetId() || r.GetHeadSeq() != 0 {
			t.Errorf("room = %v", r)
		}
		if r.GetVisibility() != parleyv1.Visibility_VISIBILITY_PUBLIC {
			t.Errorf("visibility = %v, want VISIBILITY_PUBLIC by default", r.GetVisibility())
		}
		if r.GetCreateTime().AsTime().Before(before) {
			t.Errorf("create_time = %v, want about now", r.GetCreateTime().AsTime())
		}
		if got := f.memberNames(t, f.alice, r.GetId()); !slices.Equal(got, []string{"alice"}) {
			t.Errorf("members = %v, want [alice]", got)
		}
		private := f.createRoom(t, f.alice, "private", parleyv1.Visibility_VISIBILITY_PRIVATE)
		if private.GetVisibility() != parleyv1.Visibility_VISIBILITY_PRIVATE {
			t.Errorf("visibility = %v, want VISIBILITY_PRIVATE", private.GetVisibility())
		}
		if got := f.memberNames(t, f.alice, private.GetId()); !slices.Equal(got, []string{"alice"}) {
			t.Errorf("private room members = %v, want [alice]", got)
		}
	}},
	{"CreateRoomErrAlreadyExists", func(t *testing.T, f *rpcFixture) {
		f.createRoom(t, f.alice, "taken", parleyv1.Visibility_VISIBILITY_PRIVATE)
		_, err := f.bob.Rooms.CreateRoom(f.ctx, connect.NewRequest(&parleyv1.CreateRoomRequest{Name: f.roomName("taken")}))
		wantConnectCode(t, err, connect.CodeAlreadyExists)
	}},
	{"CreateRoomErrInvalid", func(t *testing.T, f *rpcFixture) {
		for _, tc := range []struct {
			req   *parleyv1.CreateRoomRequest
			field string
		}{
			{&parleyv1.CreateRoomRequest{Name: ""}, "name"},
			{&parleyv1.CreateRoomRequest{Name: "has space"}, "name"},
			{&parleyv1.CreateRoomRequest{Name: "slash/y"}, "name"},
			{&parleyv1.CreateRoomRequest{Name: strings.Repeat("r", 65)}, "name"},
			{&parleyv1.CreateRoomRequest{Name: f.roomName("vis"), Visibility: 9}, "visibility"},
		} {
			_, err := f.alice.Rooms.CreateRoom(f.ctx, connect.NewRequest(tc.req))
			wantFieldViolations(t, err, tc.field)
		}
	}},
	{"CreateRoomErrNoToken", func(t *testing.T, f *rpcFixture) {
		_, err := f.anon.Rooms.CreateRoom(f.ctx, connect.NewRequest(&parleyv1.CreateRoomRequest{Name: f.roomName("anon")}))
		wantConnectCode(t, err, connect.CodeUnauthenticated)
	}},
	{"GetRoomOK", func(t *testing.T, f *rpcFixture) {
		pub := f.createRoom(t, f.alice, "pub", parleyv1.Visibility_VISIBILITY_PUBLIC)
		f.send(t, f.alice, pub.GetId(), "hello", "c1")
		res, err := f.bob.Rooms.GetRoom(f.ctx, connect.NewRequest(&parleyv1.GetRoomRequest{RoomId: pub.GetId()}))
		if err != nil {
			t.Fatalf("GetRoom public by non-member: %v", err)
		}
		if r := res.Msg.GetRoom(); r.GetName() != pub.GetName() || r.GetCreatorId() != f.alice.User.GetId() || r.GetHeadSeq() != 1 {
			t.Errorf("room = %v, want %s with head_seq 1", r, pub.GetName())
		}
		private := f.createRoom(t, f.alice, "private", parleyv1.Visibility_VISIBILITY_PRIVATE)
		res, err = f.alice.Rooms.GetRoom(f.ctx, connect.NewRequest(&parleyv1.GetRoomRequest{RoomId: private.GetId()}))
		if err != nil {
			t.Fatalf("GetRoom private by member: %v", err)
		}
		if r := res.Msg.GetRoom(); r.GetId() != private.GetId() || r.GetVisibility() != parleyv1.Visibility_VISIBILITY_PRIVATE {
			t.Errorf("room = %v, want %v", r, private)
		}
	}},
	{"GetRoomErrNotFound", func(t *testing.T, f *rpcFixture) {
		_, err := f.alice.Rooms.GetRoom(f.ctx, connect.NewRequest(&parleyv1.GetRoomRequest{RoomId: "r_missing"}))
		wantConnectCode(t, err, connect.CodeNotFound)
		_, err = f.alice.Rooms.GetRoom(f.ctx, connect.NewRequest(&parleyv1.GetRoomRequest{}))
		wantFieldViolations(t, err, "room_id")
	}},
	{"GetRoomErrPrivateNotMember", func(t *testing.T, f *rpcFixture) {
		private := f.createRoom(t, f.alice, "private", parleyv1.Visibility_VISIBILITY_PRIVATE)
		_, err := f.bob.Rooms.GetRoom(f.ctx, connect.NewRequest(&parleyv1.GetRoomRequest{RoomId: private.GetId()}))
		wantConnectCode(t, err, connect.CodeNotFound)
	}},
	{"ListRoomsVisibility", func(t *testing.T, f *rpcFixture) {
		pub := f.createRoom(t, f.alice, "pub", parleyv1.Visibility_VISIBILITY_PUBLIC)
		alices := f.createRoom(t, f.alice, "alice", parleyv1.Visibility_VISIBILITY_PRIVATE)
		bobs := f.createRoom(t, f.bob, "bob", parleyv1.Visibility_VISIBILITY_PRIVATE)
		for _, tc := range []struct {
			u             *testserver.User
			want, notWant []string
		}{
			{f.alice, []string{pub.GetName(), alices.GetName()}, []string{bobs.GetName()}},
			{f.bob, []string{pub.GetName(), bobs.GetName()}, []string{alices.GetName()}},
			{f.carol, []string{pub.GetName()}, []string{alices.GetName(), bobs.GetName()}},
		} {
			got := f.listRooms(t, tc.u, 0)
			for _, name := range tc.want {
				if _, ok := got[name]; !ok {
					t.Errorf("%s: ListRooms lacks %s", tc.u.User.GetUsername(), name)
				}
			}
			for _, name := range tc.notWant {
				if _, ok := got[name]; ok {
					t.Errorf("%s: ListRooms shows another user's private room %s", tc.u.User.GetUsername(), name)
				}
			}
		}
		if got := f.listRooms(t, f.alice, 0)[alices.GetName()]; got.GetVisibility() != parleyv1.Visibility_VISIBILITY_PRIVATE || got.GetId() != alices.GetId() {
			t.Errorf("listed private room = %v, want %v", got, alices)
		}
	}},
	{"ListRoomsPagination", func(t *testing.T, f *rpcFixture) {
		var want []string
		for i := range 5 {
			want = append(want, f.createRoom(t, f.alice, fmt.Sprint(i), parleyv1.Visibility_VISIBILITY_PUBLIC).GetName())
		}
		for _, size := range []int32{1, 2, 3} {
			got := f.listRooms(t, f.bob, size)
			for _, name := range want {
				if _, ok := got[name]; !ok {
					t.Errorf("page_size %d: walk lacks %s", size, name)
				}
			}
		}
	}},
	{"ListRoomsErrInvalid", func(t *testing.T, f *rpcFixture) {
		for _, tc := range []struct {
			req   *parleyv1.ListRoomsRequest
			field string
		}{
			{&parleyv1.ListRoomsRequest{PageSize: 101}, "page_size"},
			{&parleyv1.ListRoomsRequest{PageSize: -1}, "page_size"},
			{&parleyv1.ListRoomsRequest{PageToken: "garbage!!"}, "page_token"},
			{&parleyv1.ListRoomsRequest{PageToken: strings.Repeat("A", 300)}, "page_token"},
			// A token from another listing: base64url("members:alice").
			{&parleyv1.ListRoomsRequest{PageToken: "bWVtYmVyczphbGljZQ"}, "page_token"},
		} {
			_, err := f.alice.Rooms.ListRooms(f.ctx, connect.NewRequest(tc.req))
			wantFieldViolations(t, err, tc.field)
		}
	}},
	{"ListRoomsErrNoToken", func(t *testing.T, f *rpcFixture) {
		_, err := f.anon.Rooms.ListRooms(f.ctx, connect.NewRequest(&parleyv1.ListRoomsRequest{}))
		wantConnectCode(t, err, connect.CodeUnauthenticated)
	}},
	{"JoinRoomOK", func(t *testing.T, f *rpcFixture) {
		pub := f.createRoom(t, f.alice, "pub", parleyv1.Visibility_VISIBILITY_PUBLIC)
		for range 2 { // joining again succeeds and changes nothing
			res, err := f.bob.Rooms.JoinRoom(f.ctx, connect.NewRequest(&parleyv1.JoinRoomRequest{RoomId: pub.GetId()}))
			if err != nil {
				t.Fatalf("JoinRoom: %v", err)
			}
			if r := res.Msg.GetRoom(); r.GetId() != pub.GetId() || r.GetName() != pub.GetName() {
				t.Errorf("joined room = %v, want %v", r, pub)
			}
			if got := f.memberNames(t, f.bob, pub.GetId()); !slices.Equal(got, []string{"alice", "bob"}) {
				t.Errorf("members = %v, want [alice bob]", got)
			}
		}
	}},
	{"JoinRoomErrPrivate", func(t *testing.T, f *rpcFixture) {
		// A private room looks not found to non-members: its existence does not leak.
		private := f.createRoom(t, f.alice, "private", parleyv1.Visibility_VISIBILITY_PRIVATE)
		_, err := f.bob.Rooms.JoinRoom(f.ctx, connect.NewRequest(&parleyv1.JoinRoomRequest{RoomId: private.GetId()}))
		wantConnectCode(t, err, connect.CodeNotFound)
		if got := f.memberNames(t, f.alice, private.GetId()); !slices.Equal(got, []string{"alice"}) {
			t.Errorf("members = %v, want [alice]", got)
		}
	}},
	{"JoinRoomErrNotFound", func(t *testing.T, f *rpcFixture) {
		_, err := f.bob.Rooms.JoinRoom(f.ctx, connect.NewRequest(&parleyv1.JoinRoomRequest{RoomId: "r_missing"}))
		wantConnectCode(t, err, connect.CodeNotFound)
		_, err = f.bob.Rooms.JoinRoom(f.ctx, connect.NewRequest(&parleyv1.JoinRoomRequest{RoomId: strings.Repeat("r", 65)}))
		wantFieldViolations(t, err, "room_id")
	}},
	{"AddMemberOK", func(t *testing.T, f *rpcFixture) {
		private := f.createRoom(t, f.alice, "private", parleyv1.Visibility_VISIBILITY_PRIVATE)
		res, err := f.alice.Rooms.AddMember(f.ctx, connect.NewRequest(&parleyv1.AddMemberRequest{RoomId: private.GetId(), Username: "bob"}))
		if err != nil {
			t.Fatalf("AddMember: %v", err)
		}
		if m := res.Msg.GetMember(); m.GetUser().GetId() != f.bob.User.GetId() || m.GetUser().GetUsername() != "bob" || m.GetJoinTime() == nil {
			t.Errorf("member = %v, want bob with join_time", m)
		}
		// Now a member, bob sees the room and may add others.
		if _, err := f.bob.Rooms.GetRoom(f.ctx, connect.NewRequest(&parleyv1.GetRoomRequest{RoomId: private.GetId()})); err != nil {
			t.Errorf("GetRoom by the added member: %v", err)
		}
		if _, err := f.bob.Rooms.AddMember(f.ctx, connect.NewRequest(&parleyv1.AddMemberRequest{RoomId: private.GetId(), Username: "carol"})); err != nil {
			t.Errorf("AddMember by a member: %v", err)
		}
		if got := f.memberNames(t, f.carol, private.GetId()); !slices.Equal(got, []string{"alice", "bob", "carol"}) {
			t.Errorf("members = %v, want [alice bob carol]", got)
		}
	}},
	{"AddMemberErrNotMember", func(t *testing.T, f *rpcFixture) {
		pub := f.createRoom(t, f.alice, "pub", parleyv1.Visibility_VISIBILITY_PUBLIC)
		_, err := f.bob.Rooms.AddMember(f.ctx, connect.NewRequest(&parleyv1.AddMemberRequest{RoomId: pub.GetId(), Username: "carol"}))
		wantConnectCode(t, err, connect.CodePermissionDenied)
		// A private room looks not found to non-members.
		private := f.createRoom(t, f.alice, "private", parleyv1.Visibility_VISIBILITY_PRIVATE)
		_, err = f.bob.Rooms.AddMember(f.ctx, connect.NewRequest(&parleyv1.AddMemberRequest{RoomId: private.GetId(), Username: "bob"}))
		wantConnectCode(t, err, connect.CodeNotFound)
		if got := f.memberNames(t, f.alice, private.GetId()); !slices.Equal(got, []string{"alice"}) {
			t.Errorf("members = %v, want [alice]", got)
		}
	}},
	{"AddMemberErrNotFound", func(t *testing.T, f *rpcFixture) {
		room := f.createRoom(t, f.alice, "room", parleyv1.Visibility_VISIBILITY_PRIVATE)
		_, err := f.alice.Rooms.AddMember(f.ctx, connect.NewRequest(&parleyv1.AddMemberRequest{RoomId: room.GetId(), Username: "nobody"}))
		wantConnectCode(t, err, connect.CodeNotFound)
		_, err = f.alice.Rooms.AddMember(f.ctx, connect.NewRequest(&parleyv1.AddMemberRequest{RoomId: "r_missing", Username: "bob"}))
		wantConnectCode(t, err, connect.CodeNotFound)
		_, err = f.alice.Rooms.AddMember(f.ctx, connect.NewRequest(&parleyv1.AddMemberRequest{RoomId: room.GetId(), Username: "Bob!"}))
		wantFieldViolations(t, err, "username")
	}},
	{"AddMemberErrAlreadyMember", func(t *testing.T, f *rpcFixture) {
		room := f.createRoom(t, f.alice, "room", parleyv1.Visibility_VISIBILITY_PUBLIC)
		if _, err := f.alice.Rooms.AddMember(f.ctx, connect.NewRequest(&parleyv1.AddMemberRequest{RoomId: room.GetId(), Username: "bob"})); err != nil {
			t.Fatalf("AddMember: %v", err)
		}
		for _, username := range []string{"bob", "alice"} {
			_, err := f.alice.Rooms.AddMember(f.ctx, connect.NewRequest(&parleyv1.AddMemberRequest{RoomId: room.GetId(), Username: username}))
			wantConnectCode(t, err, connect.CodeAlreadyExists)
		}
	}},
	{"LeaveRoomOKThenErrNotMember", func(t *testing.T, f *rpcFixture) {
		pub := f.createRoom(t, f.alice, "pub", parleyv1.Visibility_VISIBILITY_PUBLIC)
		f.bob.JoinRoom(t, pub.GetId())
		if _, err := f.bob.Rooms.LeaveRoom(f.ctx, connect.NewRequest(&parleyv1.LeaveRoomRequest{RoomId: pub.GetId()})); err != nil {
			t.Fatalf("LeaveRoom: %v", err)
		}
		if got := f.memberNames(t, f.alice, pub.GetId()); !slices.Equal(got, []string{"alice"}) {
			t.Errorf("members = %v, want [alice]", got)
		}
		_, err := f.bob.Rooms.ListMembers(f.ctx, connect.NewRequest(&parleyv1.ListMembersRequest{RoomId: pub.GetId()}))
		wantConnectCode(t, err, connect.CodePermissionDenied)
		_, err = f.bob.Rooms.LeaveRoom(f.ctx, connect.NewRequest(&parleyv1.LeaveRoomRequest{RoomId: pub.GetId()}))
		wantConnectCode(t, err, connect.CodeFailedPrecondition)
	}},
	{"LeaveRoomErrNotFound", func(t *testing.T, f *rpcFixture) {
		_, err := f.bob.Rooms.LeaveRoom(f.ctx, connect.NewRequest(&parleyv1.LeaveRoomRequest{RoomId: "r_missing"}))
		wantConnectCode(t, err, connect.CodeNotFound)
	}},
	{"ListMembersPagination", func(t *testing.T, f *rpcFixture) {
		room := f.createRoom(t, f.carol, "room", parleyv1.Visibility_VISIBILITY_PRIVATE)
		f.add(t, f.carol, room.GetId(), "bob")
		f.add(t, f.carol, room.GetId(), "alice")
		first, err := f.carol.Rooms.ListMembers(f.ctx, connect.NewRequest(&parleyv1.ListMembersRequest{RoomId: room.GetId(), PageSize: 2}))
		if err != nil {
			t.Fatalf("ListMembers: %v", err)
		}
		if got := memberUsernames(first.Msg.GetMembers()); !slices.Equal(got, []string{"alice", "bob"}) || first.Msg.GetNextPageToken() == "" {
			t.Fatalf("first page = %v, token %q; want [alice bob] and a token", got, first.Msg.GetNextPageToken())
		}
		second, err := f.carol.Rooms.ListMembers(f.ctx, connect.NewRequest(&parleyv1.ListMembersRequest{
			RoomId: room.GetId(), PageSize: 2, PageToken: first.Msg.GetNextPageToken(),
		}))
		if err != nil {
			t.Fatalf("ListMembers page 2: %v", err)
		}
		if got := memberUsernames(second.Msg.GetMembers()); !slices.Equal(got, []string{"carol"}) || second.Msg.GetNextPageToken() != "" {
			t.Errorf("second page = %v, token %q; want [carol] and no token", got, second.Msg.GetNextPageToken())
		}
		for _, tc := range []struct {
			req   *parleyv1.ListMembersRequest
			field string
		}{
			{&parleyv1.ListMembersRequest{RoomId: room.GetId(), PageSize: 101}, "page_size"},
			{&parleyv1.ListMembersRequest{RoomId: room.GetId(), PageToken: "garbage!!"}, "page_token"},
			// A token from another listing: base64url("rooms:a").
			{&parleyv1.ListMembersRequest{RoomId: room.GetId(), PageToken: "cm9vbXM6YQ"}, "page_token"},
			{&parleyv1.ListMembersRequest{}, "room_id"},
		} {
			_, err := f.carol.Rooms.ListMembers(f.ctx, connect.NewRequest(tc.req))
			wantFieldViolations(t, err, tc.field)
		}
	}},
	{"ListMembersErrNotMember", func(t *testing.T, f *rpcFixture) {
		list := func(roomID string) error {
			_, err := f.bob.Rooms.ListMembers(f.ctx, connect.NewRequest(&parleyv1.ListMembersRequest{RoomId: roomID}))
			return err
		}
		f.wantNotMember(t, list)
		wantConnectCode(t, list("r_missing"), connect.CodeNotFound)
	}},

	// MessageService.
	{"SendMessageOK", func(t *testing.T, f *rpcFixture) {
		room := f.createRoom(t, f.alice, "room", parleyv1.Visibility_VISIBILITY_PUBLIC)
		f.bob.JoinRoom(t, room.GetId())
		before := time.Now().Add(-time.Second)
		var prev time.Time
		for i, s := range []struct {
			u          *testserver.User
			text, cmid string
		}{
			{f.alice, "hello, world", "c-1"},
			{f.bob, "héllo 👋", "c-1"}, // client_message_id is unique per sender
		} {
			m := f.send(t, s.u, room.GetId(), s.text, s.cmid)
			if m.GetSeq() != int64(i+2) || // after bob's join, seq 1 m.GetText() != s.text || m.GetClientMessageId() != f.cmid(s.cmid) ||
				m.GetRoomId() != room.GetId() || m.GetId() == "" || m.GetSender().GetId() != s.u.User.GetId() ||
				m.GetSender().GetUsername() != s.u.User.GetUsername() {
				t.Errorf("message %d = %v", i+1, m)
			}
			created := m.GetCreateTime().AsTime()
			if created.Before(before) || created.Before(prev) {
				t.Errorf("message %d create_time = %v, want after %v and %v", i+1, created, before, prev)
			}
			prev = created
		}
	}},
	{"SendMessageMaxTextOK", func(t *testing.T, f *rpcFixture) {
		room := f.createRoom(t, f.alice, "room", parleyv1.Visibility_VISIBILITY_PUBLIC)
		text := strings.Repeat("é", 4000) // 4,000 code points, 8,000 bytes
		if m := f.send(t, f.alice, room.GetId(), text, "long"); m.GetText() != text {
			t.Errorf("stored text has %d bytes, want %d", len(m.GetText()), len(text))
		}
	}},
	{"SendMessageRetryIsIdempotent", func(t *testing.T, f *rpcFixture) {
		room := f.createRoom(t, f.alice, "room", parleyv1.Visibility_VISIBILITY_PUBLIC)
		first := f.send(t, f.alice, room.GetId(), "once", "retry-me")
		for _, text := range []string{"once", "a different text"} {
			again := f.send(t, f.alice, room.GetId(), text, "retry-me")
			if again.GetId() != first.GetId() || again.GetSeq() != first.GetSeq() || again.GetText() != "once" {
				t.Errorf("retry = %v, want the original %v", again, first)
			}
		}
		// Retries that race each other still store one message.
		racing := make(chan *parleyv1.SendMessageResponse, 8)
		var wg sync.WaitGroup
		for range cap(racing) {
			wg.Go(func() {
				res, err := f.alice.Messages.SendMessage(f.ctx, connect.NewRequest(&parleyv1.SendMessageRequest{
					RoomId: room.GetId(), Text: "raced", ClientMessageId: f.cmid("race"),
				}))
				if err != nil {
					t.Errorf("racing SendMessage: %v", err)
					return
				}
				racing <- res.Msg
			})
		}
		wg.Wait()
		close(racing)
		var ids []string
		for res := range racing {
			if res.GetMessage().GetSeq() != 2 {
				t.Errorf("racing retry got seq %d, want 2", res.GetMessage().GetSeq())
			}
			ids = append(ids, res.GetMessage().GetId())
		}
		if slices.Sort(ids); len(slices.Compact(ids)) != 1 {
			t.Errorf("racing retries got ids %v, want one id", ids)
		}
		res := f.listMessages(t, f.alice, &parleyv1.ListMessagesRequest{RoomId: room.GetId()})
		if len(res.GetMessages()) != 2 || res.GetHeadSeq() != 2 {
			t.Errorf("stored %d messages, head_seq %d; want 2 and 2", len(res.GetMessages()), res.GetHeadSeq())
		}
	}},
	{"SendMessageErrInvalid", func(t *testing.T, f *rpcFixture) {
		room := f.createRoom(t, f.alice, "room", parleyv1.Visibility_VISIBILITY_PUBLIC)
		for _, tc := range []struct {
			req   *parleyv1.SendMessageRequest
			field string
		}{
			{&parleyv1.SendMessageRequest{RoomId: room.GetId(), Text: "", ClientMessageId: f.cmid("c1")}, "text"},
			{&parleyv1.SendMessageRequest{RoomId: room.GetId(), Text: " \t\n\u00a0", ClientMessageId: f.cmid("c2")}, "text"},
			{&parleyv1.SendMessageRequest{RoomId: room.GetId(), Text: strings.Repeat("x", 4001), ClientMessageId: f.cmid("c3")}, "text"},
			{&parleyv1.SendMessageRequest{RoomId: room.GetId(), Text: "hi"}, "client_message_id"},
			{&parleyv1.SendMessageRequest{RoomId: room.GetId(), Text: "hi", ClientMessageId: "has space"}, "client_message_id"},
			{&parleyv1.SendMessageRequest{RoomId: room.GetId(), Text: "hi", ClientMessageId: strings.Repeat("c", 65)}, "client_message_id"},
			{&parleyv1.SendMessageRequest{Text: "hi", ClientMessageId: f.cmid("c4")}, "room_id"},
		} {
			_, err := f.alice.Messages.SendMessage(f.ctx, connect.NewRequest(tc.req))
			wantFieldViolations(t, err, tc.field)
		}
		if res := f.listMessages(t, f.alice, &parleyv1.ListMessagesRequest{RoomId: room.GetId()}); res.GetHeadSeq() != 0 {
			t.Errorf("head_seq = %d after invalid sends, want 0", res.GetHeadSeq())
		}
	}},
	{"SendMessageErrNotMember", func(t *testing.T, f *rpcFixture) {
		pub := f.createRoom(t, f.alice, "pub", parleyv1.Visibility_VISIBILITY_PUBLIC)
		_, err := f.bob.Messages.SendMessage(f.ctx, connect.NewRequest(&parleyv1.SendMessageRequest{RoomId: pub.GetId(), Text: "hi", ClientMessageId: f.cmid("c1")}))
		wantConnectCode(t, err, connect.CodePermissionDenied)
		private := f.createRoom(t, f.alice, "private", parleyv1.Visibility_VISIBILITY_PRIVATE)
		_, err = f.bob.Messages.SendMessage(f.ctx, connect.NewRequest(&parleyv1.SendMessageRequest{RoomId: private.GetId(), Text: "hi", ClientMessageId: f.cmid("c2")}))
		wantConnectCode(t, err, connect.CodeNotFound)
		if res := f.listMessages(t, f.alice, &parleyv1.ListMessagesRequest{RoomId: pub.GetId()}); res.GetHeadSeq() != 0 {
			t.Errorf("head_seq = %d, want 0", res.GetHeadSeq())
		}
	}},
	{"SendMessageErrNotFound", func(t *testing.T, f *rpcFixture) {
		_, err := f.alice.Messages.SendMessage(f.ctx, connect.NewRequest(&parleyv1.SendMessageRequest{RoomId: "r_missing", Text: "hi", ClientMessageId: f.cmid("c1")}))
		wantConnectCode(t, err, connect.CodeNotFound)
	}},
	{"SendMessageErrNoToken", func(t *testing.T, f *rpcFixture) {
		room := f.createRoom(t, f.alice, "room", parleyv1.Visibility_VISIBILITY_PUBLIC)
		_, err := f.anon.Messages.SendMessage(f.ctx, connect.NewRequest(&parleyv1.SendMessageRequest{RoomId: room.GetId(), Text: "hi", ClientMessageId: f.cmid("c1")}))
		wantConnectCode(t, err, connect.CodeUnauthenticated)
	}},
	{"ListMessagesWindows", func(t *testing.T, f *rpcFixture) {
		room := f.createRoom(t, f.alice, "room", parleyv1.Visibility_VISIBILITY_PUBLIC)
		for i := 1; i <= 5; i++ {
			f.send(t, f.alice, room.GetId(), fmt.Sprint("m", i), fmt.Sprint("c", i))
		}
		for _, tc := range []struct {
			name string
			req  *parleyv1.ListMessagesRequest
			want []int64
		}{
			{"AfterSeqZero", &parleyv1.ListMessagesRequest{AfterSeq: proto.Int64(0), Limit: 2}, []int64{1, 2}},
			{"AfterSeq", &parleyv1.ListMessagesRequest{AfterSeq: proto.Int64(2), Limit: 2}, []int64{3, 4}},
			{"AfterSeqNearHead", &parleyv1.ListMessagesRequest{AfterSeq: proto.Int64(3), Limit: 10}, []int64{4, 5}},
			{"AfterSeqAtHead", &parleyv1.ListMessagesRequest{AfterSeq: proto.Int64(5)}, nil},
			{"AfterSeqBeyondHead", &parleyv1.ListMessagesRequest{AfterSeq: proto.Int64(9)}, nil},
			{"BeforeSeq", &parleyv1.ListMessagesRequest{BeforeSeq: 4, Limit: 2}, []int64{2, 3}},
			{"BeforeSeqNearStart", &parleyv1.ListMessagesRequest{BeforeSeq: 2, Limit: 10}, []int64{1}},
			{"BeforeSeqFirst", &parleyv1.ListMessagesRequest{BeforeSeq: 1}, nil},
			{"Newest", &parleyv1.ListMessagesRequest{Limit: 2}, []int64{4, 5}},
			{"DefaultLimit", &parleyv1.ListMessagesRequest{}, []int64{1, 2, 3, 4, 5}},
		} {
			tc.req.RoomId = room.GetId()
			res := f.listMessages(t, f.alice, tc.req)
			var seqs []int64
			for _, m := range res.GetMessages() {
				seqs = append(seqs, m.GetSeq())
				if m.GetText() != fmt.Sprint("m", m.GetSeq()) {
					t.Errorf("%s: seq %d has text %q", tc.name, m.GetSeq(), m.GetText())
				}
			}
			if !slices.Equal(seqs, tc.want) || res.GetHeadSeq() != 5 {
				t.Errorf("%s: seqs %v head_seq %d, want %v and 5", tc.name, seqs, res.GetHeadSeq(), tc.want)
			}
		}
		res, err := f.alice.Rooms.GetRoom(f.ctx, connect.NewRequest(&parleyv1.GetRoomRequest{RoomId: room.GetId()}))
		if err != nil || res.Msg.GetRoom().GetHeadSeq() != 5 {
			t.Errorf("GetRoom = %v, %v; want head_seq 5", res, err)
		}
	}},
	{"ListMessagesErrInvalid", func(t *testing.T, f *rpcFixture) {
		room := f.createRoom(t, f.alice, "room", parleyv1.Visibility_VISIBILITY_PUBLIC)
		for _, tc := range []struct {
			req   *parleyv1.ListMessagesRequest
			field string
		}{
			{&parleyv1.ListMessagesRequest{RoomId: room.GetId(), Limit: 501}, "limit"},
			{&parleyv1.ListMessagesRequest{RoomId: room.GetId(), Limit: -1}, "limit"},
			{&parleyv1.ListMessagesRequest{RoomId: room.GetId(), AfterSeq: proto.Int64(1), BeforeSeq: 3}, "before_seq"},
			{&parleyv1.ListMessagesRequest{RoomId: room.GetId(), AfterSeq: proto.Int64(0), BeforeSeq: 3}, "before_seq"},
			{&parleyv1.ListMessagesRequest{RoomId: room.GetId(), AfterSeq: proto.Int64(-1)}, "after_seq"},
			{&parleyv1.ListMessagesRequest{RoomId: room.GetId(), BeforeSeq: -1}, "before_seq"},
			{&parleyv1.ListMessagesRequest{}, "room_id"},
		} {
			_, err := f.alice.Messages.ListMessages(f.ctx, connect.NewRequest(tc.req))
			wantFieldViolations(t, err, tc.field)
		}
	}},
	{"ListMessagesErrNotMember", func(t *testing.T, f *rpcFixture) {
		list := func(roomID string) error {
			_, err := f.bob.Messages.ListMessages(f.ctx, connect.NewRequest(&parleyv1.ListMessagesRequest{RoomId: roomID}))
			return err
		}
		f.wantNotMember(t, list)
		wantConnectCode(t, list("r_missing"), connect.CodeNotFound)
	}},
	{"SubscribeReplayThenLive", func(t *testing.T, f *rpcFixture) {
		room := f.createRoom(t, f.alice, "room", parleyv1.Visibility_VISIBILITY_PUBLIC)
		stored := []*parleyv1.Message{
			f.send(t, f.alice, room.GetId(), "one", "c1"),
			f.send(t, f.alice, room.GetId(), "two", "c2"),
		}
		sub := f.subscribe(t, f.alice.Services, room.GetId(), 0)
		for _, want := range stored {
			if got := sub.nextMessage(t); got.GetId() != want.GetId() || got.GetSeq() != want.GetSeq() || got.GetText() != want.GetText() {
				t.Fatalf("replayed %v, want %v", got, want)
			}
		}
		live := f.send(t, f.alice, room.GetId(), "three", "c3")
		if got := sub.nextMessage(t); got.GetId() != live.GetId() || got.GetSeq() != 3 || got.GetSender().GetId() != f.alice.User.GetId() {
			t.Fatalf("live %v, want %v", got, live)
		}
		// Resuming replays from since_seq+1; since_seq at the head replays nothing.
		resumed := f.subscribe(t, f.alice.Services, room.GetId(), 2)
		if got := resumed.nextMessage(t); got.GetSeq() != 3 {
			t.Fatalf("resumed from 2: first seq %d, want 3", got.GetSeq())
		}
		// Whether seq 4 is stored before atHead registers (then it is
		// replayed) or after (then it is live), it arrives exactly once.
		atHead := f.subscribe(t, f.alice.Services, room.GetId(), 3)
		f.send(t, f.alice, room.GetId(), "four", "c4")
		for name, s := range map[string]*rpcStream{"first": sub, "resumed": resumed, "atHead": atHead} {
			if got := s.nextMessage(t); got.GetSeq() != 4 || got.GetText() != "four" {
				t.Errorf("%s stream: next %v, want seq 4", name, got)
			}
		}
	}},
	{"SubscribeMemberEvents", func(t *testing.T, f *rpcFixture) {
		room := f.createRoom(t, f.alice, "room", parleyv1.Visibility_VISIBILITY_PUBLIC)
		f.send(t, f.alice, room.GetId(), "hi", "c1")
		sub := f.subscribe(t, f.alice.Services, room.GetId(), 0)
		sub.nextMessage(t) // the replay: sub is registered for live events
		f.bob.JoinRoom(t, room.GetId())
		if ev := sub.nextEvent(t); ev.GetMemberJoined().GetUser().GetId() != f.bob.User.GetId() ||
			ev.GetMemberJoined().GetRoomId() != room.GetId() || ev.GetMemberJoined().GetTime() == nil ||
			ev.GetMemberJoined().GetSeq() != 2 || ev.GetMemberJoined().GetActor().GetId() != f.bob.User.GetId() {
			t.Errorf("event = %v, want member_joined of bob, by bob, at seq 2", ev)
		}
		// The join is in the room's log: a stream from 0 replays it.
		bobs := f.subscribe(t, f.bob.Services, room.GetId(), 0)
		bobs.nextMessage(t)
		if ev := bobs.nextEvent(t); ev.GetMemberJoined().GetUser().GetId() != f.bob.User.GetId() || ev.GetMemberJoined().GetSeq() != 2 {
			t.Errorf("bob's replay = %v, want his member_joined at seq 2", ev)
		}
		if _, err := f.bob.Rooms.LeaveRoom(f.ctx, connect.NewRequest(&parleyv1.LeaveRoomRequest{RoomId: room.GetId()})); err != nil {
			t.Fatalf("LeaveRoom: %v", err)
		}
		if ev := sub.nextEvent(t); ev.GetMemberLeft().GetUser().GetId() != f.bob.User.GetId() || ev.GetMemberLeft().GetSeq() != 3 {
			t.Errorf("event = %v, want member_left of bob at seq 3", ev)
		}
		// Leaving ends the leaver's own stream: it may no longer read the room.
		if ev := bobs.nextEvent(t); ev.GetMemberLeft().GetUser().GetId() != f.bob.User.GetId() {
			t.Errorf("bob's event = %v, want member_left of bob", ev)
		}
		wantConnectCode(t, bobs.end(t), connect.CodePermissionDenied)
	}},
	{"SubscribeOpensBeforeFirstEvent", func(t *testing.T, f *rpcFixture) {
		room := f.createRoom(t, f.alice, "room", parleyv1.Visibility_VISIBILITY_PUBLIC)
		f.send(t, f.alice, room.GetId(), "hi", "c1")
		// Nothing to replay and nothing live: the stream is open but idle,
		// and a client's Subscribe call returns once the headers arrive,
		// not at the first heartbeat (15 s).
		sub := f.subscribe(t, f.alice.Services, room.GetId(), 1)
		select {
		case <-sub.opened:
		case <-time.After(5 * time.Second):
			t.Fatal("Subscribe did not return: the server sent no response headers")
		}
		select {
		case ev, ok := <-sub.events:
			t.Fatalf("idle stream: event %v (open %t), want none", ev, ok)
		default:
		}
	}},
	{"SubscribeErrOutOfRange", func(t *testing.T, f *rpcFixture) {
		room := f.createRoom(t, f.alice, "room", parleyv1.Visibility_VISIBILITY_PUBLIC)
		f.send(t, f.alice, room.GetId(), "hi", "c1")
		wantConnectCode(t, f.subscribe(t, f.alice.Services, room.GetId(), 2).end(t), connect.CodeOutOfRange)
		wantFieldViolations(t, f.subscribe(t, f.alice.Services, room.GetId(), -1).end(t), "since_seq")
	}},
	{"SubscribeErrNotMember", func(t *testing.T, f *rpcFixture) {
		f.wantNotMember(t, func(roomID string) error { return f.subscribe(t, f.bob.Services, roomID, 0).end(t) })
	}},
	{"SubscribeErrNotFound", func(t *testing.T, f *rpcFixture) {
		wantConnectCode(t, f.subscribe(t, f.alice.Services, "r_missing", 0).end(t), connect.CodeNotFound)
		wantFieldViolations(t, f.subscribe(t, f.alice.Services, "", 0).end(t), "room_id")
	}},
	{"SubscribeErrNoToken", func(t *testing.T, f *rpcFixture) {
		room := f.createRoom(t, f.alice, "room", parleyv1.Visibility_VISIBILITY_PUBLIC)
		wantConnectCode(t, f.subscribe(t, f.anon, room.GetId(), 0).end(t), connect.CodeUnauthenticated)
		wantConnectCode(t, f.subscribe(t, f.client.Services("pt_garbage"), room.GetId(), 0).end(t), connect.CodeUnauthenticated)
	}},
	{"SignOutEndsOpenStream", func(t *testing.T, f *rpcFixture) {
		room := f.createRoom(t, f.alice, "room", parleyv1.Visibility_VISIBILITY_PUBLIC)
		f.send(t, f.alice, room.GetId(), "hi", "c1")
		session := f.client.Services(f.signIn(t, f.alice))
		doomed := f.subscribe(t, session, room.GetId(), 0)
		doomed.nextMessage(t)
		other := f.subscribe(t, f.alice.Services, room.GetId(), 0)
		other.nextMessage(t)
		if _, err := session.Auth.SignOut(f.ctx, connect.NewRequest(&parleyv1.SignOutRequest{})); err != nil {
			t.Fatalf("SignOut: %v", err)
		}
		wantConnectCode(t, doomed.end(t), connect.CodeUnauthenticated)
		// A stream of another session of the same user lives on.
		f.send(t, f.alice, room.GetId(), "still here", "c2")
		if got := other.nextMessage(t); got.GetSeq() != 2 {
			t.Errorf("other session's stream: next seq %d, want 2", got.GetSeq())
		}
	}},
}

// TestConnectGetListRooms calls ListRooms, which has no side effects, with
// HTTP GET, as browsers and caches may with the Connect protocol.
func TestConnectGetListRooms(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	for _, name := range []string{"connect/json/h2c", "connect/proto/h2c"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := srv.Client(t, name)
			ctx := rpcContext(t)
			username := "get_" + strings.ReplaceAll(strings.TrimSuffix(name, "/h2c"), "/", "_")
			u := testserver.SignUp(t, c, username)
			roomName := "Get-" + username
			u.CreateRoom(t, roomName, parleyv1.Visibility_VISIBILITY_UNSPECIFIED)
			get := c.Services(u.Token, connect.WithHTTPGet())

			req := connect.NewRequest(&parleyv1.ListRoomsRequest{PageSize: 100})
			res, err := get.Rooms.ListRooms(ctx, req)
			if err != nil {
				t.Fatalf("ListRooms: %v", err)
			}
			if req.HTTPMethod() != "GET" {
				t.Errorf("ListRooms went as %s, want GET", req.HTTPMethod())
			}
			if !slices.ContainsFunc(res.Msg.GetRooms(), func(r *parleyv1.Room) bool { return r.GetName() == roomName }) {
				t.Errorf("ListRooms over GET lacks %s: %v", roomName, res.Msg.GetRooms())
			}

			bad := connect.NewRequest(&parleyv1.ListRoomsRequest{PageSize: 101})
			_, err = get.Rooms.ListRooms(ctx, bad)
			if bad.HTTPMethod() != "GET" {
				t.Errorf("invalid ListRooms went as %s, want GET", bad.HTTPMethod())
			}
			wantFieldViolations(t, err, "page_size")

			_, err = c.Services("", connect.WithHTTPGet()).Rooms.ListRooms(ctx, connect.NewRequest(&parleyv1.ListRoomsRequest{}))
			wantConnectCode(t, err, connect.CodeUnauthenticated)
		})
	}
}

// rpcFixture is one server seen through one client configuration, with
// three accounts every case may use. Cases must not revoke these accounts'
// tokens: a case that signs out signs in first for a session of its own.
// Each case gets a copy with its own prefix (room names start with it, so
// cases running in parallel never collide) and its own deadline.
type rpcFixture struct {
	client            testserver.Client
	anon              testserver.Services
	alice, bob, carol *testserver.User

	prefix string
	ctx    context.Context
}

func newRPCFixture(t *testing.T, clientName string) *rpcFixture {
	t.Helper()
	srv := testserver.Start(t)
	c := srv.Client(t, clientName)
	return &rpcFixture{
		client: c,
		anon:   c.Services(""),
		alice:  testserver.SignUp(t, c, "alice"),
		bob:    testserver.SignUp(t, c, "bob"),
		carol:  testserver.SignUp(t, c, "carol"),
	}
}

// rpcContext bounds a test's calls and streams by rpcTimeout.
func rpcContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), rpcTimeout)
	t.Cleanup(cancel)
	return ctx
}

// signIn starts another session of u and returns its token.
func (f *rpcFixture) signIn(t *testing.T, u *testserver.User) string {
	t.Helper()
	res, err := f.anon.Auth.SignIn(f.ctx, connect.NewRequest(&parleyv1.SignInRequest{Username: u.User.GetUsername(), Password: testserver.Password}))
	if err != nil {
		t.Fatalf("SignIn(%s): %v", u.User.GetUsername(), err)
	}
	return res.Msg.GetToken()
}

func (f *rpcFixture) getMe(t *testing.T, c testserver.Services) *parleyv1.User {
	t.Helper()
	res, err := c.Auth.GetMe(f.ctx, connect.NewRequest(&parleyv1.GetMeRequest{}))
	if err != nil {
		t.Fatalf("GetMe: %v", err)
	}
	return res.Msg.GetUser()
}

// cmid is the case's client message id with the given suffix. Client
// message ids are unique per sender across all rooms, so cases that share a
// sender must not share ids.
func (f *rpcFixture) cmid(suffix string) string {
	return f.prefix + ":" + suffix
}

// roomName is the case's room name with the given suffix.
func (f *rpcFixture) roomName(suffix string) string {
	return f.prefix + "-" + suffix
}

// createRoom creates the case's room with the given suffix as u.
func (f *rpcFixture) createRoom(t *testing.T, u *testserver.User, suffix string, v parleyv1.Visibility) *parleyv1.Room {
	t.Helper()
	return u.CreateRoom(t, f.roomName(suffix), v)
}

// wantNotMember creates a public and a private room as alice and calls
// call (as bob, who is a member of neither) on each: the public room is
// permission_denied, the private one not_found (to non-members it does not
// exist).
func (f *rpcFixture) wantNotMember(t *testing.T, call func(roomID string) error) {
	t.Helper()
	pub := f.createRoom(t, f.alice, "pub", parleyv1.Visibility_VISIBILITY_PUBLIC)
	wantConnectCode(t, call(pub.GetId()), connect.CodePermissionDenied)
	private := f.createRoom(t, f.alice, "private", parleyv1.Visibility_VISIBILITY_PRIVATE)
	wantConnectCode(t, call(private.GetId()), connect.CodeNotFound)
}

func (f *rpcFixture) add(t *testing.T, u *testserver.User, roomID, username string) {
	t.Helper()
	if _, err := u.Rooms.AddMember(f.ctx, connect.NewRequest(&parleyv1.AddMemberRequest{RoomId: roomID, Username: username})); err != nil {
		t.Fatalf("AddMember(%s): %v", username, err)
	}
}

// listRooms walks every page of u's ListRooms, checking that pages respect
// the size, that names ascend across pages, and that only the last page
// lacks a token. Other cases create rooms meanwhile, so it checks no count.
func (f *rpcFixture) listRooms(t *testing.T, u *testserver.User, pageSize int32) map[string]*parleyv1.Room {
	t.Helper()
	limit := int(pageSize)
	if limit == 0 {
		limit = 50
	}
	rooms := make(map[string]*parleyv1.Room)
	var last, token string
	for page := 1; ; page++ {
		res, err := u.Rooms.ListRooms(f.ctx, connect.NewRequest(&parleyv1.ListRoomsRequest{PageSize: pageSize, PageToken: token}))
		if err != nil {
			t.Fatalf("ListRooms page %d: %v", page, err)
		}
		got := res.Msg.GetRooms()
		token = res.Msg.GetNextPageToken()
		if len(got) > limit || (token != "" && len(got) != limit) {
			t.Fatalf("page %d has %d rooms (next token %q), want at most %d and exactly %d before the last", page, len(got), token, limit, limit)
		}
		for _, r := range got {
			if r.GetName() <= last {
				t.Fatalf("page %d: %s after %s, want ascending names", page, r.GetName(), last)
			}
			last = r.GetName()
			rooms[r.GetName()] = r
		}
		if token == "" {
			return rooms
		}
	}
}

// memberNames lists every member of a room, as u sees them.
func (f *rpcFixture) memberNames(t *testing.T, u *testserver.User, roomID string) []string {
	t.Helper()
	res, err := u.Rooms.ListMembers(f.ctx, connect.NewRequest(&parleyv1.ListMembersRequest{RoomId: roomID}))
	if err != nil {
		t.Fatalf("ListMembers: %v", err)
	}
	if res.Msg.GetNextPageToken() != "" {
		t.Fatalf("ListMembers: more than one page")
	}
	return memberUsernames(res.Msg.GetMembers())
}

func memberUsernames(members []*parleyv1.Member) []string {
	var names []string
	for _, m := range members {
		names = append(names, m.GetUser().GetUsername())
	}
	return names
}

// send sends text as u with the case's client message id for the suffix.
func (f *rpcFixture) send(t *testing.T, u *testserver.User, roomID, text, clientMessageID string) *parleyv1.Message {
	t.Helper()
	return u.SendMessage(t, roomID, text, f.cmid(clientMessageID))
}

func (f *rpcFixture) listMessages(t *testing.T, u *testserver.User, req *parleyv1.ListMessagesRequest) *parleyv1.ListMessagesResponse {
	t.Helper()
	res, err := u.Messages.ListMessages(f.ctx, connect.NewRequest(req))
	if err != nil {
		t.Fatalf("ListMessages: %v", err)
	}
	return res.Msg
}

// rpcStream calls Subscribe and receives its stream on a goroutine of
// its own, so a test waits for events under the case's deadline and never
// blocks in Subscribe or Receive. (A connect-go client's Subscribe returns
// only once the response headers arrive.)
type rpcStream struct {
	opened chan struct{}                    // closed when Subscribe has returned
	events chan *parleyv1.SubscribeResponse // closed when the stream has ended
	err    error                            // why it ended; written before events is closed
}

// subscribe opens a stream that lasts until the case ends at the latest.
func (f *rpcFixture) subscribe(t *testing.T, c testserver.Services, roomID string, since int64) *rpcStream {
	t.Helper()
	ctx, cancel := context.WithCancel(f.ctx)
	s := &rpcStream{opened: make(chan struct{}), events: make(chan *parleyv1.SubscribeResponse)}
	t.Cleanup(func() {
		cancel()
		for range s.events { // until the receiving goroutine has exited
		}
	})
	req := connect.NewRequest(&parleyv1.SubscribeRequest{RoomId: roomID, SinceSeq: since})
	go func() {
		defer close(s.events)
		stream, err := c.Messages.Subscribe(ctx, req)
		close(s.opened)
		if err != nil {
			s.err = err
			return
		}
		for stream.Receive() {
			select {
			case s.events <- stream.Msg():
			case <-ctx.Done():
			}
		}
		s.err = stream.Err()
		_ = stream.Close()
	}()
	return s
}

// nextEvent returns the next event other than a heartbeat.
func (s *rpcStream) nextEvent(t *testing.T) *parleyv1.SubscribeResponse {
	t.Helper()
	for ev := range s.events {
		if ev.GetHeartbeat() == nil {
			return ev
		}
	}
	t.Fatalf("stream ended: %v", s.err)
	return nil
}

// nextMessage returns the next event, which must be a message.
func (s *rpcStream) nextMessage(t *testing.T) *parleyv1.Message {
	t.Helper()
	ev := s.nextEvent(t)
	if ev.GetMessage() == nil {
		t.Fatalf("event = %v, want a message", ev)
	}
	return ev.GetMessage()
}

// end waits for the stream to end, which must happen with no further
// message, and returns why it ended.
func (s *rpcStream) end(t *testing.T) error {
	t.Helper()
	for ev := range s.events {
		if ev.GetMessage() != nil {
			t.Errorf("unexpected message before the end: %v", ev)
		}
	}
	if s.err == nil {
		t.Errorf("stream ended cleanly, want an error")
	}
	return s.err
}

// wantConnectCode reports an error unless err is a Connect error with the code.
func wantConnectCode(t *testing.T, err error, want connect.Code) {
	t.Helper()
	if err == nil {
		t.Errorf("no error, want %v", want)
	} else if got := connect.CodeOf(err); got != want {
		t.Errorf("error %v has code %v, want %v", err, got, want)
	}
}

// wantFieldViolations reports an error unless err is invalid_argument with a
// google.rpc.BadRequest detail naming exactly the fields, each described.
func wantFieldViolations(t *testing.T, err error, fields ...string) {
	t.Helper()
	var cerr *connect.Error
	if !errors.As(err, &cerr) || cerr.Code() != connect.CodeInvalidArgument {
		t.Errorf("error %v, want invalid_argument", err)
		return
	}
	var violated []string
	for _, d := range cerr.Details() {
		v, err := d.Value()
		if err != nil {
			t.Errorf("detail %s: %v", d.Type(), err)
			continue
		}
		br, ok := v.(*errdetails.BadRequest)
		if !ok {
			continue
		}
		for _, fv := range br.GetFieldViolations() {
			violated = append(violated, fv.GetField())
			if fv.GetDescription() == "" {
				t.Errorf("violation of %s has no description", fv.GetField())
			}
		}
	}
	slices.Sort(violated)
	want := slices.Sorted(slices.Values(fields))
	if !slices.Equal(violated, want) {
		t.Errorf("error %v: field violations %v, want %v", err, violated, want)
	}
}
