package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/server"
)

// quotaLimits are tight limits, each reached within a few calls, refilling
// one a minute so that a frozen clock gives an exact retry delay.
func quotaLimits() server.Limits {
	perMinute := func(burst int) server.Rate { return server.Rate{Events: 1, Per: time.Minute, Burst: burst} }
	return server.Limits{
		SignUpsPerIP:            perMinute(2),
		SignInFailuresPerIPUser: perMinute(2),
		SignInFailuresPerIP:     perMinute(5),
		SignInFailuresPerUser:   perMinute(20),
		SendsPerUser:            perMinute(2),
		RoomsPerUser:            perMinute(2),
		MemberAddsPerUser:       perMinute(2),
		UploadsPerUser:          perMinute(3),
		OpenUploadsPerUser:      2,
		StoredBytesPerUser:      50,
		StreamsPerUser:          2,
	}
}

// clock is a frozen clock that tests move on.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// quotaFixture is a server with quotaLimits for one protocol, whose users
// each sign up from an address of their own (so that the sign-up limit
// does not count them), unless a case says otherwise.
type quotaFixture struct {
	srv    *testserver.Server
	client testserver.Client
	clock  *clock
	ips    atomic.Int32
	ctx    context.Context
}

func newQuotaFixture(t *testing.T, clientName string, limits server.Limits) *quotaFixture {
	t.Helper()
	clk := &clock{now: time.Now()}
	srv := testserver.Start(t, server.WithLimits(limits), server.WithNow(clk.Now), server.WithHeartbeat(50*time.Millisecond))
	return &quotaFixture{srv: srv, client: srv.Client(t, clientName), clock: clk, ctx: t.Context()}
}

// from returns the fixture's client dialing from a new address.
func (f *quotaFixture) from() testserver.Client {
	n := f.ips.Add(1)
	return f.client.From(fmt.Sprintf("127.0.%d.%d", 10+n/250, 1+n%250))
}

// quotaUser is a signed-up user with clients for every service.
type quotaUser struct {
	name, token string
	testserver.Services
	files parleyv1connect.FileServiceClient
}

func (f *quotaFixture) user(t *testing.T, name string) *quotaUser {
	t.Helper()
	c := f.from()
	res, err := c.Services("").Auth.SignUp(f.ctx, connect.NewRequest(&parleyv1.SignUpRequest{Username: name, Password: testserver.Password}))
	if err != nil {
		t.Fatalf("SignUp %s: %v", name, err)
	}
	return f.as(c, name, res.Msg.GetToken())
}

func (f *quotaFixture) as(c testserver.Client, name, token string) *quotaUser {
	opts := append(c.Options[:len(c.Options):len(c.Options)], testserver.WithToken(token))
	return &quotaUser{
		name: name, token: token, Services: c.Services(token),
		files: parleyv1connect.NewFileServiceClient(c.Client, c.BaseURL, opts...),
	}
}

func (f *quotaFixture) room(t *testing.T, u *quotaUser) string {
	t.Helper()
	res, err := u.Rooms.CreateRoom(f.ctx, connect.NewRequest(&parleyv1.CreateRoomRequest{Name: "room-of-" + u.name}))
	if err != nil {
		t.Fatalf("CreateRoom: %v", err)
	}
	return res.Msg.GetRoom().GetId()
}

// wantRetry checks that err is resource_exhausted with a google.rpc.RetryInfo
// detail, decoded on the client side, of want (or any positive delay if
// want is 0), and returns the delay.
func wantRetry(t *testing.T, err error, want time.Duration) time.Duration {
	t.Helper()
	var cerr *connect.Error
	if !errors.As(err, &cerr) || cerr.Code() != connect.CodeResourceExhausted {
		t.Fatalf("error %v, want resource_exhausted", err)
	}
	for _, d := range cerr.Details() {
		v, derr := d.Value()
		if derr != nil {
			t.Fatalf("detail %s: %v", d.Type(), derr)
		}
		if info, ok := v.(*errdetails.RetryInfo); ok {
			got := info.GetRetryDelay().AsDuration()
			if want > 0 && got != want || got <= 0 {
				t.Errorf("retry delay %v, want %v (%v)", got, want, err)
			}
			return got
		}
	}
	t.Fatalf("error %v has no google.rpc.RetryInfo", err)
	return 0
}

// quotaCases are the quotas, each reached on a protocol. Cases run one
// after the other on one server, since some move its clock.
var quotaCases = []struct {
	name string
	run  func(t *testing.T, f *quotaFixture)
}{
	{"SendsPerUser", func(t *testing.T, f *quotaFixture) {
		u := f.user(t, "sender")
		room := f.room(t, u)
		send := func(id string) error {
			_, err := u.Messages.SendMessage(f.ctx, connect.NewRequest(&parleyv1.SendMessageRequest{RoomId: room, Text: "hi", ClientMessageId: id}))
			return err
		}
		for _, id := range []string{"m1", "m2"} {
			if err := send(id); err != nil {
				t.Fatalf("send %s: %v", id, err)
			}
		}
		err := send("m3")
		wantRetry(t, err, time.Minute)
		if !strings.Contains(err.Error(), "too many messages") {
			t.Errorf("error %q does not say what was limited", err)
		}
		f.clock.add(time.Minute)
		if err := send("m3"); err != nil {
			t.Errorf("send after the retry delay: %v", err)
		}
	}},
	{"SendsPerUserOnChat", func(t *testing.T, f *quotaFixture) {
		if f.client.HTTP == "http1" {
			t.Skip("Chat needs HTTP/2")
		}
		u := f.user(t, "chatter")
		room := f.room(t, u)
		ctx, cancel := context.WithCancel(f.ctx)
		defer cancel()
		chat := u.Messages.Chat(ctx)
		send := func(id string) *parleyv1.ChatResponse {
			t.Helper()
			err := chat.Send(&parleyv1.ChatRequest{FrameId: id, Frame: &parleyv1.ChatRequest_Send{Send: &parleyv1.SendMessageRequest{RoomId: room, Text: "hi", ClientMessageId: id}}})
			if err != nil {
				t.Fatalf("send frame: %v", err)
			}
			for {
				res, err := chat.Receive()
				if err != nil {
					t.Fatalf("receive: %v", err)
				}
				if res.GetAck() != nil || res.GetError() != nil {
					return res
				}
			}
		}
		for _, id := range []string{"c1", "c2"} {
			if res := send(id); res.GetAck() == nil {
				t.Fatalf("frame %s: %v, want an ack", id, res)
			}
		}
		res := send("c3")
		if e := res.GetError(); e.GetCode() != "resource_exhausted" || !strings.Contains(e.GetMessage(), "retry in 1m0s") {
			t.Errorf("third send frame: %v, want resource_exhausted saying when to retry", res)
		}
		if d := res.GetError().GetRetryDelay().AsDuration(); d != time.Minute {
			t.Errorf("third send frame: retry_delay %v, want 1m0s", d)
		}
		_ = chat.CloseRequest()
	}},
	{"RoomsPerUser", func(t *testing.T, f *quotaFixture) {
		u := f.user(t, "roomer")
		create := func(name string) error {
			_, err := u.Rooms.CreateRoom(f.ctx, connect.NewRequest(&parleyv1.CreateRoomRequest{Name: name}))
			return err
		}
		for _, name := range []string{"r1", "r2"} {
			if err := create(name); err != nil {
				t.Fatalf("CreateRoom %s: %v", name, err)
			}
		}
		wantRetry(t, create("r3"), time.Minute)
	}},
	{"MemberAddsPerUser", func(t *testing.T, f *quotaFixture) {
		owner := f.user(t, "owner")
		room := f.room(t, owner)
		for _, name := range []string{"guest1", "guest2"} {
			f.user(t, name)
		}
		add := func(name string) error {
			_, err := owner.Rooms.AddMember(f.ctx, connect.NewRequest(&parleyv1.AddMemberRequest{RoomId: room, Username: name}))
			return err
		}
		if err := add("guest1"); err != nil {
			t.Fatalf("AddMember: %v", err)
		}
		wantConnectCode(t, add("nobody"), connect.CodeNotFound) // counts too
		// Limited whether the username exists or not: probing stops.
		wantRetry(t, add("guest2"), time.Minute)
		wantRetry(t, add("nobody2"), time.Minute)
	}},
	{"SignUpsPerIP", func(t *testing.T, f *quotaFixture) {
		f.user(t, "taken")
		c := f.from().Services("")
		signUp := func(name string) error {
			_, err := c.Auth.SignUp(f.ctx, connect.NewRequest(&parleyv1.SignUpRequest{Username: name, Password: testserver.Password}))
			return err
		}
		if err := signUp("newbie"); err != nil {
			t.Fatalf("SignUp: %v", err)
		}
		// A taken name says so (that much is inherent), and counts.
		wantConnectCode(t, signUp("taken"), connect.CodeAlreadyExists)
		wantRetry(t, signUp("newbie2"), time.Minute)
		wantRetry(t, signUp("taken"), time.Minute)
		// Invalid input is refused first, and does not count.
		wantConnectCode(t, signUp("X"), connect.CodeInvalidArgument)
		// Another address may sign up.
		if _, err := f.from().Services("").Auth.SignUp(f.ctx, connect.NewRequest(&parleyv1.SignUpRequest{Username: "newbie3", Password: testserver.Password})); err != nil {
			t.Errorf("SignUp from another address: %v", err)
		}
	}},
	{"SignInFailures", func(t *testing.T, f *quotaFixture) {
		f.user(t, "victim") // signs up from an address now known for it
		attacker := f.from().Services("")
		signIn := func(c testserver.Services, name, pass string) error {
			_, err := c.Auth.SignIn(f.ctx, connect.NewRequest(&parleyv1.SignInRequest{Username: name, Password: pass}))
			return err
		}
		var refusals []string
		for _, name := range []string{"victim", "nobody"} {
			for range 2 {
				wantConnectCode(t, signIn(attacker, name, "wrong password"), connect.CodeUnauthenticated)
			}
			err := signIn(attacker, name, "wrong password")
			wantRetry(t, err, time.Minute)
			refusals = append(refusals, connect.CodeOf(err).String()+": "+err.Error())
		}
		// The same answer whether the user exists: no enumeration.
		if refusals[0] != refusals[1] {
			t.Errorf("refusals differ for a user and no user:\n%s\n%s", refusals[0], refusals[1])
		}
		// Even the right password is refused from the attacker's address...
		wantRetry(t, signIn(attacker, "victim", testserver.Password), time.Minute)
		// ...but not from another one.
		if err := signIn(f.from().Services(""), "victim", testserver.Password); err != nil {
			t.Errorf("SignIn by the victim from another address: %v", err)
		}
	}},
	{"StreamsPerUser", func(t *testing.T, f *quotaFixture) {
		u := f.user(t, "streamer")
		room := f.room(t, u)
		fileID := f.upload(t, u, room)
		var cancels []context.CancelFunc
		defer func() {
			for _, c := range cancels {
				c()
			}
		}()
		subscribe := func() error {
			ctx, cancel := context.WithCancel(f.ctx)
			cancels = append(cancels, cancel)
			stream, err := u.Messages.Subscribe(ctx, connect.NewRequest(&parleyv1.SubscribeRequest{RoomId: room}))
			if err != nil {
				return err
			}
			if !stream.Receive() { // a heartbeat comes within 50 ms
				return stream.Err()
			}
			return nil
		}
		for i := range 2 {
			if err := subscribe(); err != nil {
				t.Fatalf("Subscribe %d: %v", i+1, err)
			}
		}
		wantRetry(t, subscribe(), time.Second)

		download, err := u.files.Download(f.ctx, connect.NewRequest(&parleyv1.DownloadRequest{FileId: fileID}))
		if err == nil && !download.Receive() {
			err = download.Err()
		} else if err == nil {
			err = errors.New("download served")
		}
		wantRetry(t, err, time.Second)

		if f.client.HTTP != "http1" {
			upload := u.files.Upload(f.ctx)
			_ = upload.Send(&parleyv1.UploadRequest{Frame: &parleyv1.UploadRequest_Start{Start: &parleyv1.UploadStart{Target: &parleyv1.UploadStart_UploadId{UploadId: "u_none"}}}})
			_, err = upload.CloseAndReceive()
			wantRetry(t, err, time.Second)

			chat := u.Messages.Chat(f.ctx)
			_ = chat.Send(nil)
			_, err = chat.Receive()
			wantRetry(t, err, time.Second)
			_ = chat.CloseRequest()
		}

		// Once a stream ends, its place is free again.
		cancels[0]()
		deadline := time.Now().Add(5 * time.Second)
		for err := subscribe(); err != nil; err = subscribe() {
			if time.Now().After(deadline) {
				t.Fatalf("Subscribe after closing one: %v", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}},
	{"UploadsPerUser", func(t *testing.T, f *quotaFixture) {
		u := f.user(t, "uploader")
		room := f.room(t, u)
		for range 3 {
			f.upload(t, u, room)
		}
		_, err := f.createUpload(u, room)
		wantRetry(t, err, time.Minute)
	}},
	{"OpenUploadsPerUser", func(t *testing.T, f *quotaFixture) {
		u := f.user(t, "hoarder")
		room := f.room(t, u)
		first, err := f.createUpload(u, room)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.createUpload(u, room); err != nil {
			t.Fatal(err)
		}
		_, err = f.createUpload(u, room)
		// An unfinished upload counts for 24 hours, the first from now.
		wantRetry(t, err, 24*time.Hour)
		if !strings.Contains(err.Error(), "unfinished uploads") {
			t.Errorf("error %q does not say what was limited", err)
		}
		// Finishing one frees its place.
		if _, err := u.files.UploadChunk(f.ctx, connect.NewRequest(&parleyv1.UploadChunkRequest{UploadId: first, Data: []byte(uploadContent)})); err != nil {
			t.Fatalf("UploadChunk: %v", err)
		}
		if _, err := f.createUpload(u, room); err != nil {
			t.Errorf("CreateUpload after finishing one: %v", err)
		}
	}},
	{"StoredBytesPerUser", func(t *testing.T, f *quotaFixture) {
		// Last: it moves the clock by an hour. 50 bytes per user; files of
		// 12 bytes.
		u := f.user(t, "keeper")
		room := f.room(t, u)
		f.upload(t, u, room)
		// With no unfinished upload to wait for, the delay is the expiry
		// (24 h) plus the sweep interval (10 min).
		_, err := f.createUploadOf(u, room, strings.Repeat("x", 39))
		wantRetry(t, err, 24*time.Hour+10*time.Minute)
		if !strings.Contains(err.Error(), "not enough storage left: at most 50 bytes per user, 12 are in files and unfinished uploads, this upload needs 39") {
			t.Errorf("error %q does not say what was limited", err)
		}
		if _, err := f.createUploadOf(u, room, strings.Repeat("y", 30)); err != nil {
			t.Fatalf("CreateUpload within the quota: %v", err)
		}
		// An hour later, the unfinished upload frees its 30 bytes in 23 h
		// and 10 min at the latest.
		f.clock.add(time.Hour)
		_, err = f.createUpload(u, room)
		wantRetry(t, err, 23*time.Hour+10*time.Minute)
		if f.client.HTTP != "http1" {
			upload := u.files.Upload(f.ctx)
			_ = upload.Send(&parleyv1.UploadRequest{Frame: &parleyv1.UploadRequest_Start{Start: &parleyv1.UploadStart{
				Target: &parleyv1.UploadStart_Metadata{Metadata: uploadMetadata(room, uploadContent)},
			}}})
			_, err = upload.CloseAndReceive()
			wantRetry(t, err, 23*time.Hour+10*time.Minute)
		}
	}},
}

const uploadContent = "hello, quota"

// createUpload announces uploadContent in room.
func (f *quotaFixture) createUpload(u *quotaUser, room string) (string, error) {
	return f.createUploadOf(u, room, uploadContent)
}

// createUploadOf announces content in room.
func (f *quotaFixture) createUploadOf(u *quotaUser, room, content string) (string, error) {
	res, err := u.files.CreateUpload(f.ctx, connect.NewRequest(&parleyv1.CreateUploadRequest{Metadata: uploadMetadata(room, content)}))
	if err != nil {
		return "", err
	}
	return res.Msg.GetUpload().GetUploadId(), nil
}

func uploadMetadata(room, content string) *parleyv1.UploadMetadata {
	sum := sha256.Sum256([]byte(content))
	return &parleyv1.UploadMetadata{
		RoomId: room, Name: "hello.txt", ContentType: "text/plain", Size: int64(len(content)), Sha256: hex.EncodeToString(sum[:]),
	}
}

// upload uploads uploadContent into room and returns the file id.
func (f *quotaFixture) upload(t *testing.T, u *quotaUser, room string) string {
	t.Helper()
	id, err := f.createUpload(u, room)
	if err != nil {
		t.Fatalf("CreateUpload: %v", err)
	}
	res, err := u.files.UploadChunk(f.ctx, connect.NewRequest(&parleyv1.UploadChunkRequest{UploadId: id, Data: []byte(uploadContent)}))
	if err != nil {
		t.Fatalf("UploadChunk: %v", err)
	}
	return res.Msg.GetUpload().GetFile().GetId()
}

// TestQuotasAnswerRetryInfo reaches every quota on Connect, gRPC and
// gRPC-Web (proto and JSON) and checks the answer: resource_exhausted with
// a google.rpc.RetryInfo saying when to try again.
func TestQuotasAnswerRetryInfo(t *testing.T) {
	t.Parallel()
	for _, protocol := range append(rpcProtocols, "connect/proto/http1", "grpcweb/proto/http1") {
		t.Run(protocol, func(t *testing.T) {
			t.Parallel()
			f := newQuotaFixture(t, protocol, quotaLimits())
			for _, tc := range quotaCases {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, f) })
			}
		})
	}
}
