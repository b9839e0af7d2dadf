package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/client"
	"github.com/parley-chat/parley/internal/testserver"
)

// newClients returns one client per protocol x codec x transport of the
// test server, each configured through client options only.
func newClients(t *testing.T, srv *testserver.Server) map[string]*client.Client {
	t.Helper()
	out := map[string]*client.Client{}
	for _, cell := range srv.Clients() {
		opts := []client.Option{client.WithProtocol(client.Protocol(cell.Protocol)), client.WithCodec(client.Codec(cell.Codec))}
		switch cell.HTTP {
		case "http1":
			opts = append(opts, client.WithHTTP1())
		case "tls":
			opts = append(opts, client.WithTLSConfig(srv.TLSConfig()))
		}
		c, err := client.New(cell.BaseURL, opts...)
		if err != nil {
			t.Fatal(err)
		}
		out[cell.Name] = c
	}
	return out
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func wantCode(t *testing.T, err error, code parley.ErrorCode) *parley.Error {
	t.Helper()
	var perr *parley.Error
	if !errors.As(err, &perr) || perr.Code != code {
		t.Fatalf("err = %v, want a *parley.Error with code %s", err, code)
	}
	return perr
}

// TestClient runs the unary RPCs, Subscribe and the domain errors over
// every protocol, codec and transport.
func TestClient(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	for name, c := range newClients(t, srv) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			user := "u" + strings.NewReplacer("/", "-").Replace(name)
			s, err := c.SignUp(ctx, user, "parley-test-pass")
			if err != nil {
				t.Fatal(err)
			}
			if s.User.Username != user || !strings.HasPrefix(s.Token, "pt_") || c.Token() != s.Token {
				t.Fatalf("session = %+v", s)
			}
			me, err := c.Me(ctx)
			if err != nil || me.ID != s.User.ID {
				t.Fatalf("Me = %+v, %v", me, err)
			}
			if greeting, err := c.Hello(ctx, name); err != nil || greeting != "Hello "+name {
				t.Fatalf("Hello = %q, %v", greeting, err)
			}
			room, err := c.CreateRoom(ctx, "room-"+user, parley.Private)
			if err != nil || room.Visibility != parley.Private || room.CreatorID != s.User.ID {
				t.Fatalf("CreateRoom = %+v, %v", room, err)
			}
			_, err = c.CreateRoom(ctx, "room-"+user, parley.Public)
			wantCode(t, err, parley.ECONFLICT)

			sub := c.Subscribe(ctx, room.ID, 0)
			defer sub.Close()
			sent, err := c.SendMessage(ctx, room.ID, "hello "+name)
			if err != nil || sent.Seq != 1 || sent.Sender.Username != user {
				t.Fatalf("SendMessage = %+v, %v", sent, err)
			}
			again, err := c.SendMessage(ctx, room.ID, "hello "+name, client.WithClientMessageID(sent.ClientMessageID))
			if err != nil || again.ID != sent.ID {
				t.Fatalf("retried SendMessage = %+v, %v; want the original", again, err)
			}
			if !sub.Receive() || sub.Event().Kind != parley.EventMessage || sub.Event().Message.Text != "hello "+name {
				t.Fatalf("Subscribe: %v %v", sub.Event(), sub.Err())
			}
			if sub.LastSeq() != 1 {
				t.Fatalf("LastSeq = %d", sub.LastSeq())
			}

			msgs, head, err := c.ListMessages(ctx, room.ID, parley.HistoryQuery{Forward: true})
			if err != nil || head != 1 || len(msgs) != 1 || msgs[0].ID != sent.ID || !msgs[0].CreateTime.Equal(sent.CreateTime) {
				t.Fatalf("ListMessages = %+v, %d, %v", msgs, head, err)
			}
			rooms, err := c.ListRooms(ctx)
			if err != nil || !containsRoom(rooms, room.ID) {
				t.Fatalf("ListRooms = %+v, %v", rooms, err)
			}
			members, err := c.ListMembers(ctx, room.ID)
			if err != nil || len(members) != 1 || members[0].User.ID != s.User.ID {
				t.Fatalf("ListMembers = %+v, %v", members, err)
			}

			perr := wantCode(t, firstErr(c.SendMessage(ctx, room.ID, " ")), parley.EINVALID)
			if len(perr.Violations) == 0 || perr.Violations[0].Field != "text" {
				t.Errorf("violations = %+v, want text", perr.Violations)
			}
			wantCode(t, firstErr(c.GetRoom(ctx, "r_nope")), parley.ENOTFOUND)
			wantCode(t, firstErr(c.AddMember(ctx, room.ID, "nobody-"+user)), parley.ENOTFOUND)
			wantCode(t, firstErr(c.SignIn(ctx, user, "wrong password")), parley.EUNAUTHORIZED)
			if c.Token() != s.Token {
				t.Fatal("a failed SignIn replaced the token")
			}

			if err := c.LeaveRoom(ctx, room.ID); err != nil {
				t.Fatal(err)
			}
			wantCode(t, firstErr(c.SendMessage(ctx, room.ID, "gone")), parley.ENOTFOUND) // private: invisible now
			if _, err := c.SignIn(ctx, user, "parley-test-pass"); err != nil {
				t.Fatal(err)
			}
			if err := c.SignOut(ctx); err != nil {
				t.Fatal(err)
			}
			wantCode(t, firstErr(c.Me(ctx)), parley.EUNAUTHORIZED)
		})
	}
}

func firstErr[T any](_ T, err error) error { return err }

func containsRoom(rooms []parley.Room, id string) bool {
	for _, r := range rooms {
		if r.ID == id {
			return true
		}
	}
	return false
}

// TestMembership covers joining public rooms, adding members and the
// not-a-member errors.
func TestMembership(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	ctx := testContext(t)
	ada, bob := mustClient(t, srv.URL), mustClient(t, srv.URL)
	for c, name := range map[*client.Client]string{ada: "ada", bob: "bob"} {
		signUp(t, ctx, c, name)
	}
	pub, _ := ada.CreateRoom(ctx, "pub", parley.Public)
	priv, _ := ada.CreateRoom(ctx, "priv", parley.Private)
	wantCode(t, firstErr(bob.SendMessage(ctx, pub.ID, "hi")), parley.EFORBIDDEN)
	wantCode(t, firstErr(bob.JoinRoom(ctx, priv.ID)), parley.ENOTFOUND)
	if _, err := bob.JoinRoom(ctx, pub.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.SendMessage(ctx, pub.ID, "hi"); err != nil {
		t.Fatal(err)
	}
	m, err := ada.AddMember(ctx, priv.ID, "bob")
	if err != nil || m.User.Username != "bob" || m.RoomID != priv.ID {
		t.Fatalf("AddMember = %+v, %v", m, err)
	}
	wantCode(t, firstErr(ada.AddMember(ctx, priv.ID, "bob")), parley.ECONFLICT)
	wantCode(t, bob.LeaveRoom(ctx, "r_nope"), parley.ENOTFOUND)
}

func mustClient(t *testing.T, url string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// signUp signs c up as username, failing the test if it cannot.
func signUp(t *testing.T, ctx context.Context, c *client.Client, username string) {
	t.Helper()
	if _, err := c.SignUp(ctx, username, "parley-test-pass"); err != nil {
		t.Fatalf("SignUp(%s): %v", username, err)
	}
}

// signUpInRoom signs c up as username and creates a public room named
// room, failing the test if it cannot.
func signUpInRoom(t *testing.T, ctx context.Context, c *client.Client, username, room string) parley.Room {
	t.Helper()
	signUp(t, ctx, c, username)
	r, err := c.CreateRoom(ctx, room, parley.Public)
	if err != nil {
		t.Fatalf("CreateRoom(%s): %v", room, err)
	}
	return r
}

// signUpInOwnRoom is signUpInRoom for the subtest of the client matrix
// named name: a user and a room of its own, named from prefix and name.
func signUpInOwnRoom(t *testing.T, ctx context.Context, c *client.Client, prefix, name string) parley.Room {
	t.Helper()
	user := prefix + strings.NewReplacer("/", "-").Replace(name)
	return signUpInRoom(t, ctx, c, user, "room-"+user)
}

// TestNewRejectsBadOptions checks the configuration errors New reports.
func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		url  string
		opts []client.Option
	}{
		{"ErrScheme", "ftp://x", nil},
		{"ErrNoHost", "http://", nil},
		{"ErrProtocol", "http://x", []client.Option{client.WithProtocol("soap")}},
		{"ErrCodec", "http://x", []client.Option{client.WithCodec("xml")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := client.New(tc.url, tc.opts...); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
}

// TestTransportErrors checks that a refused connection and a server
// without h2c come back as EUNAVAILABLE that still tell what happened.
func TestTransportErrors(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := mustClient(t, "http://127.0.0.1:1")
	err := firstErr(c.Hello(ctx, "x"))
	wantCode(t, err, parley.EUNAVAILABLE)
	if !strings.Contains(err.Error(), "refused") {
		t.Errorf("err = %v, want it to say the connection was refused", err)
	}
	_, err = mustClient(t, "http://127.0.0.1:1").Chat(ctx)
	if err != nil {
		t.Fatalf("Chat fails on first use, not when opened: %v", err)
	}
	_, err = mustClient(t, "http://127.0.0.1:1", client.WithHTTP1()).Chat(ctx)
	wantCode(t, err, parley.ENOTIMPLEMENTED)
}

func ExampleClient() {
	ctx := context.Background()
	c, err := client.New("http://localhost:8080", client.WithProtocol(client.ProtocolGRPC))
	if err != nil {
		panic(err)
	}
	if _, err := c.SignIn(ctx, "ada", "correct horse"); err != nil {
		fmt.Println(parley.ErrorCodeOf(err)) // e.g. unauthenticated
		return
	}
	sub := c.Subscribe(ctx, "r_general", 0)
	defer sub.Close()
	for sub.Receive() {
		if ev := sub.Event(); ev.Kind == parley.EventMessage {
			fmt.Printf("%s: %s\n", ev.Message.Sender.Username, ev.Message.Text)
		}
	}
}
