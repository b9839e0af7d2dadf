package server

import (
	"context"

	"connectrpc.com/connect"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
)

// roomHandler serves parley.v1.RoomService over Connect, gRPC and
// gRPC-Web: each method converts, calls the rooms core (room.go) and
// converts back.
type roomHandler struct{ s *Server }

var _ parleyv1connect.RoomServiceHandler = (*roomHandler)(nil)

func (h *roomHandler) CreateRoom(ctx context.Context, req *connect.Request[parleyv1.CreateRoomRequest]) (*connect.Response[parleyv1.CreateRoomResponse], error) {
	return callAs(ctx, func(p *principal) (parley.Room, error) {
		return h.s.createRoom(ctx, p, req.Msg.GetName(), visibilityFromProto(req.Msg.GetVisibility()))
	}, func(room parley.Room) *parleyv1.CreateRoomResponse {
		return &parleyv1.CreateRoomResponse{Room: roomToProto(room)}
	})
}

func (h *roomHandler) GetRoom(ctx context.Context, req *connect.Request[parleyv1.GetRoomRequest]) (*connect.Response[parleyv1.GetRoomResponse], error) {
	return callAs(ctx, func(p *principal) (parley.Room, error) {
		return h.s.getRoom(ctx, p, req.Msg.GetRoomId())
	}, func(room parley.Room) *parleyv1.GetRoomResponse {
		return &parleyv1.GetRoomResponse{Room: roomToProto(room)}
	})
}

func (h *roomHandler) ListRooms(ctx context.Context, req *connect.Request[parleyv1.ListRoomsRequest]) (*connect.Response[parleyv1.ListRoomsResponse], error) {
	p, err := principalFrom(ctx)
	if err != nil {
		return nil, err
	}
	rooms, next, err := h.s.listRooms(ctx, p, req.Msg.GetPageSize(), req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}
	res := &parleyv1.ListRoomsResponse{NextPageToken: next}
	for _, r := range rooms {
		res.Rooms = append(res.Rooms, roomToProto(r))
	}
	return connect.NewResponse(res), nil
}

func (h *roomHandler) JoinRoom(ctx context.Context, req *connect.Request[parleyv1.JoinRoomRequest]) (*connect.Response[parleyv1.JoinRoomResponse], error) {
	return callAs(ctx, func(p *principal) (parley.Room, error) {
		return h.s.joinRoom(ctx, p, req.Msg.GetRoomId())
	}, func(room parley.Room) *parleyv1.JoinRoomResponse {
		return &parleyv1.JoinRoomResponse{Room: roomToProto(room)}
	})
}

func (h *roomHandler) AddMember(ctx context.Context, req *connect.Request[parleyv1.AddMemberRequest]) (*connect.Response[parleyv1.AddMemberResponse], error) {
	return callAs(ctx, func(p *principal) (parley.Member, error) {
		return h.s.addMember(ctx, p, req.Msg.GetRoomId(), req.Msg.GetUsername())
	}, func(m parley.Member) *parleyv1.AddMemberResponse {
		return &parleyv1.AddMemberResponse{Member: memberToProto(m)}
	})
}

func (h *roomHandler) LeaveRoom(ctx context.Context, req *connect.Request[parleyv1.LeaveRoomRequest]) (*connect.Response[parleyv1.LeaveRoomResponse], error) {
	p, err := principalFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.s.leaveRoom(ctx, p, req.Msg.GetRoomId()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&parleyv1.LeaveRoomResponse{}), nil
}

func (h *roomHandler) ListMembers(ctx context.Context, req *connect.Request[parleyv1.ListMembersRequest]) (*connect.Response[parleyv1.ListMembersResponse], error) {
	p, err := principalFrom(ctx)
	if err != nil {
		return nil, err
	}
	members, next, err := h.s.listMembers(ctx, p, req.Msg.GetRoomId(), req.Msg.GetPageSize(), req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}
	res := &parleyv1.ListMembersResponse{NextPageToken: next}
	for _, m := range members {
		res.Members = append(res.Members, memberToProto(m))
	}
	return connect.NewResponse(res), nil
}

// visibilityFromProto maps the wire enum to the domain: unspecified means
// public; an unknown value maps to the zero Visibility, which createRoom
// refuses with a field violation.
func visibilityFromProto(v parleyv1.Visibility) parley.Visibility {
	switch v {
	case parleyv1.Visibility_VISIBILITY_UNSPECIFIED, parleyv1.Visibility_VISIBILITY_PUBLIC:
		return parley.Public
	case parleyv1.Visibility_VISIBILITY_PRIVATE:
		return parley.Private
	}
	return 0
}
