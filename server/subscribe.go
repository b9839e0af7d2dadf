package server

import (
	"context"
	"time"

	"connectrpc.com/connect"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
)

// subscribe serves MessageService.Subscribe: one roomFeed (feed.go) whose
// events are encoded once and shared by every subscriber (codec.go), plus
// heartbeats that also re-check the session.
func (s *Server) subscribe(ctx context.Context, req *connect.Request[parleyv1.SubscribeRequest], stream *connect.ServerStream[eventFrame]) error {
	p, err := principalFrom(ctx)
	if err != nil {
		return err
	}
	roomID, since := req.Msg.GetRoomId(), req.Msg.GetSinceSeq()
	v := validateID("room_id", roomID)
	if since < 0 {
		v = append(v, parley.FieldViolation{Field: "since_seq", Description: "must not be negative"})
	}
	if err := parley.Invalid(v); err != nil {
		return err
	}
	if err := s.draining(); err != nil {
		return err
	}
	if _, err := s.memberRoom(ctx, roomID, p.user.ID); err != nil {
		return err
	}
	ctx, stop := s.streams.watch(ctx, p)
	defer stop()
	// Send the response headers now, so clients (and proxies) know the
	// stream is established even if the room stays quiet.
	if err := stream.Send(nil); err != nil {
		return err
	}
	deliver := func(ev *parley.Event) error {
		if ev.Kind == parley.EventTyping {
			return nil // typing notices are for Chat
		}
		return stream.Send(&eventFrame{shared: ev})
	}
	feed, _, err := s.openFeed(ctx, p, roomID, since, deliver, flushHoldFrom(ctx))
	if err != nil {
		return err
	}
	defer feed.Close()
	heartbeat := time.NewTicker(s.cfg.heartbeat)
	defer heartbeat.Stop()
	return feed.run(heartbeat.C, func() error {
		if err := s.recheckSession(ctx, p); err != nil {
			return err
		}
		return stream.Send(&eventFrame{own: &parleyv1.SubscribeResponse{Event: &parleyv1.SubscribeResponse_Heartbeat{
			Heartbeat: &parleyv1.Heartbeat{Time: timeToProto(s.now()), LastSeq: feed.last},
		}}})
	})
}
