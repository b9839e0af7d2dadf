package testserver

import (
	"context"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
)

// Password is the password of every account SignUp makes.
const Password = "correct horse battery staple"

// CallTimeout bounds each call the fixtures make, so that a test against a
// server that hangs fails instead of waiting for the test binary's timeout.
const CallTimeout = 30 * time.Second

// Client returns the configuration of the client matrix named name, e.g.
// "grpc/proto/h2c", failing the test if there is none.
func (s *Server) Client(tb testing.TB, name string) Client {
	tb.Helper()
	for _, c := range s.Clients() {
		if c.Name == name {
			return c
		}
	}
	tb.Fatalf("no client %q in the matrix", name)
	return Client{}
}

// H2C is the Connect protocol with the proto codec over h2c to a server at
// baseURL, such as a parleyd process a test started.
func H2C(baseURL string) Client {
	return Client{Name: "connect/proto/h2c", Protocol: "connect", Codec: "proto", HTTP: "h2c", Client: H2CClient(), BaseURL: baseURL}
}

// Services are the generated clients of the Parley services for one client
// configuration, all sending the same bearer token, or none.
type Services struct {
	Auth     parleyv1connect.AuthServiceClient
	Rooms    parleyv1connect.RoomServiceClient
	Messages parleyv1connect.MessageServiceClient
	Files    parleyv1connect.FileServiceClient
}

// Services returns c's clients of the Parley services, sending token; an
// empty token sends no Authorization header. The options follow c's own.
func (c Client) Services(token string, opts ...connect.ClientOption) Services {
	opts = append(slices.Clone(c.Options), opts...)
	if token != "" {
		opts = append(opts, WithToken(token))
	}
	return Services{
		Auth:     parleyv1connect.NewAuthServiceClient(c.Client, c.BaseURL, opts...),
		Rooms:    parleyv1connect.NewRoomServiceClient(c.Client, c.BaseURL, opts...),
		Messages: parleyv1connect.NewMessageServiceClient(c.Client, c.BaseURL, opts...),
		Files:    parleyv1connect.NewFileServiceClient(c.Client, c.BaseURL, opts...),
	}
}

// User is a signed-up account with clients that send its session's token.
type User struct {
	Services
	User  *parleyv1.User
	Token string
}

// SignUp signs username up through c with Password, failing the test if it
// cannot.
func SignUp(tb testing.TB, c Client, username string) *User {
	tb.Helper()
	ctx, cancel := callContext(tb)
	defer cancel()
	res, err := c.Services("").Auth.SignUp(ctx, connect.NewRequest(&parleyv1.SignUpRequest{Username: username, Password: Password}))
	if err != nil {
		tb.Fatalf("SignUp(%s): %v", username, err)
	}
	return &User{Services: c.Services(res.Msg.GetToken()), User: res.Msg.GetUser(), Token: res.Msg.GetToken()}
}

// Via returns u's session with the clients of another configuration.
func (u *User) Via(c Client) *User {
	return &User{Services: c.Services(u.Token), User: u.User, Token: u.Token}
}

// CreateRoom creates a room named name as u, failing the test if it cannot.
func (u *User) CreateRoom(tb testing.TB, name string, v parleyv1.Visibility) *parleyv1.Room {
	tb.Helper()
	ctx, cancel := callContext(tb)
	defer cancel()
	res, err := u.Rooms.CreateRoom(ctx, connect.NewRequest(&parleyv1.CreateRoomRequest{Name: name, Visibility: v}))
	if err != nil {
		tb.Fatalf("CreateRoom(%s): %v", name, err)
	}
	return res.Msg.GetRoom()
}

// JoinRoom joins u to a public room, failing the test if it cannot.
func (u *User) JoinRoom(tb testing.TB, roomID string) {
	tb.Helper()
	ctx, cancel := callContext(tb)
	defer cancel()
	if _, err := u.Rooms.JoinRoom(ctx, connect.NewRequest(&parleyv1.JoinRoomRequest{RoomId: roomID})); err != nil {
		tb.Fatalf("JoinRoom(%s): %v", roomID, err)
	}
}

// SendMessage sends text to a room as u, failing the test if it cannot.
func (u *User) SendMessage(tb testing.TB, roomID, text, clientMessageID string) *parleyv1.Message {
	tb.Helper()
	ctx, cancel := callContext(tb)
	defer cancel()
	req := &parleyv1.SendMessageRequest{RoomId: roomID, Text: text, ClientMessageId: clientMessageID}
	res, err := u.Messages.SendMessage(ctx, connect.NewRequest(req))
	if err != nil {
		tb.Fatalf("SendMessage(%q): %v", clientMessageID, err)
	}
	return res.Msg.GetMessage()
}

func callContext(tb testing.TB) (context.Context, context.CancelFunc) {
	return context.WithTimeout(tb.Context(), CallTimeout)
}
