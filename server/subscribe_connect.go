package server

import (
	"context"
	"time"

	"connectrpc.com/connect"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
)

// serveSubscribe serves MessageService.Subscribe: the subscription core
// (subscribe.go) over a Connect, gRPC or gRPC-Web server stream whose room
// events are encoded once and shared by every subscriber (codec_connect.go).
func (s *Server) serveSubscribe(ctx context.Context, req *connect.Request[parleyv1.SubscribeRequest], stream *connect.ServerStream[eventFrame]) error {
	p, err := principalFrom(ctx)
	if err != nil {
		return err
	}
	return s.subscribe(ctx, p, req.Msg.GetRoomId(), req.Msg.GetSinceSeq(), subscribeStream{stream})
}

// subscribeStream is an eventSink over a Connect server stream.
type subscribeStream struct {
	stream *connect.ServerStream[eventFrame]
}

func (s subscribeStream) Open() error { return s.stream.Send(nil) }

func (s subscribeStream) Event(ev *parley.Event) error {
	return s.stream.Send(&eventFrame{shared: ev})
}

func (s subscribeStream) Heartbeat(now time.Time, lastSeq int64) error {
	return s.stream.Send(&eventFrame{own: &parleyv1.SubscribeResponse{Event: &parleyv1.SubscribeResponse_Heartbeat{
		Heartbeat: &parleyv1.Heartbeat{Time: timeToProto(now), LastSeq: lastSeq},
	}}})
}
