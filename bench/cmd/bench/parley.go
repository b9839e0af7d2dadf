package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"connectrpc.com/connect"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
)

// parleySession is a signed-up user with clients for the Parley services.
type parleySession struct {
	rooms    parleyv1connect.RoomServiceClient
	messages parleyv1connect.MessageServiceClient
	hc       *http.Client
}

// bearer adds the session token to every request.
func bearer(token string) connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	})
}

type bearerStream struct {
	connect.Interceptor
	token string
}

func (b bearerStream) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+b.token)
		return conn
	}
}

func newParleySession(ctx context.Context, addr, username string) (*parleySession, error) {
	hc := httpClient(true)
	base := "http://" + addr
	auth := parleyv1connect.NewAuthServiceClient(hc, base)
	res, err := auth.SignUp(ctx, connect.NewRequest(&parleyv1.SignUpRequest{Username: username, Password: "bench-password"}))
	if err != nil {
		return nil, fmt.Errorf("sign up: %w", err)
	}
	token := res.Msg.GetToken()
	opts := connect.WithInterceptors(bearerStream{bearer(token), token})
	return &parleySession{
		rooms:    parleyv1connect.NewRoomServiceClient(hc, base, opts),
		messages: parleyv1connect.NewMessageServiceClient(hc, base, opts),
		hc:       hc,
	}, nil
}

func (s *parleySession) createRoom(ctx context.Context, name string) (string, error) {
	res, err := s.rooms.CreateRoom(ctx, connect.NewRequest(&parleyv1.CreateRoomRequest{Name: name}))
	if err != nil {
		return "", fmt.Errorf("create room: %w", err)
	}
	return res.Msg.GetRoom().GetId(), nil
}

func (s *parleySession) send(ctx context.Context, room, text, id string) (time.Duration, error) {
	t := time.Now()
	_, err := s.messages.SendMessage(ctx, connect.NewRequest(&parleyv1.SendMessageRequest{RoomId: room, Text: text, ClientMessageId: id}))
	return time.Since(t), err
}
