package server

import (
	"context"

	"connectrpc.com/connect"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
)

// roomHandler serves parley.v1.RoomService.
type roomHandler struct{ s *Server }

var _ parleyv1connect.RoomServiceHandler = (*roomHandler)(nil)

const maxIDLen = 64

func validateID(field, id string) []parley.FieldViolation {
	switch {
	case id == "":
		return []parley.FieldViolation{{Field: field, Description: "is required"}}
	case len(id) > maxIDLen:
		return []parley.FieldViolation{{Field: field, Description: "is not a valid id"}}
	}
	return nil
}

func (h *roomHandler) CreateRoom(ctx context.Context, req *connect.Request[parleyv1.CreateRoomRequest]) (*connect.Response[parleyv1.CreateRoomResponse], error) {
	p, err := principalFrom(ctx)
	if err != nil {
		return nil, err
	}
	v := parley.ValidateRoomName("name", req.Msg.GetName())
	visibility := parley.Public
	switch req.Msg.GetVisibility() {
	case parleyv1.Visibility_VISIBILITY_UNSPECIFIED, parleyv1.Visibility_VISIBILITY_PUBLIC:
	case parleyv1.Visibility_VISIBILITY_PRIVATE:
		visibility = parley.Private
	default:
		v = append(v, parley.FieldViolation{Field: "visibility", Description: "must be VISIBILITY_PUBLIC or VISIBILITY_PRIVATE"})
	}
	if err := parley.Invalid(v); err != nil {
		return nil, err
	}
	room, err := h.s.store.CreateRoom(ctx, req.Msg.GetName(), visibility, p.user.ID)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&parleyv1.CreateRoomResponse{Room: roomToProto(room)}), nil
}

func (h *roomHandler) GetRoom(ctx context.Context, req *connect.Request[parleyv1.GetRoomRequest]) (*connect.Response[parleyv1.GetRoomResponse], error) {
	p, err := principalFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := parley.Invalid(validateID("room_id", req.Msg.GetRoomId())); err != nil {
		return nil, err
	}
	room, _, err := h.s.visibleRoom(ctx, req.Msg.GetRoomId(), p.user.ID)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&parleyv1.GetRoomResponse{Room: roomToProto(room)}), nil
}

func (h *roomHandler) ListRooms(ctx context.Context, req *connect.Request[parleyv1.ListRoomsRequest]) (*connect.Response[parleyv1.ListRoomsResponse], error) {
	p, err := principalFrom(ctx)
	if err != nil {
		return nil, err
	}
	size, v := parley.ValidatePageSize("page_size", req.Msg.GetPageSize())
	if err := parley.Invalid(v); err != nil {
		return nil, err
	}
	after, err := decodePageToken("rooms", req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}
	rooms, err := h.s.store.ListRooms(ctx, p.user.ID, after, size+1)
	if err != nil {
		return nil, err
	}
	res := &parleyv1.ListRoomsResponse{}
	rooms, res.NextPageToken = page(rooms, size, "rooms", func(r parley.Room) string { return r.Name })
	for _, r := range rooms {
		res.Rooms = append(res.Rooms, roomToProto(r))
	}
	return connect.NewResponse(res), nil
}

func (h *roomHandler) JoinRoom(ctx context.Context, req *connect.Request[parleyv1.JoinRoomRequest]) (*connect.Response[parleyv1.JoinRoomResponse], error) {
	p, err := principalFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := parley.Invalid(validateID("room_id", req.Msg.GetRoomId())); err != nil {
		return nil, err
	}
	room, member, err := h.s.visibleRoom(ctx, req.Msg.GetRoomId(), p.user.ID)
	if err != nil {
		return nil, err
	}
	if !member { // visibleRoom hides private rooms from non-members
		m, err := h.s.store.AddMember(ctx, room.ID, p.user.ID)
		if err != nil && parley.ErrorCodeOf(err) != parley.ECONFLICT {
			return nil, err
		} else if err == nil {
			h.s.publishMember(parley.EventMemberJoined, m)
		}
	}
	return connect.NewResponse(&parleyv1.JoinRoomResponse{Room: roomToProto(room)}), nil
}

func (h *roomHandler) AddMember(ctx context.Context, req *connect.Request[parleyv1.AddMemberRequest]) (*connect.Response[parleyv1.AddMemberResponse], error) {
	p, err := principalFrom(ctx)
	if err != nil {
		return nil, err
	}
	v := append(validateID("room_id", req.Msg.GetRoomId()), parley.ValidateUsername("username", req.Msg.GetUsername())...)
	if err := parley.Invalid(v); err != nil {
		return nil, err
	}
	room, err := h.s.memberRoom(ctx, req.Msg.GetRoomId(), p.user.ID)
	if err != nil {
		return nil, err
	}
	user, _, err := h.s.store.UserByUsername(ctx, req.Msg.GetUsername())
	if err != nil {
		return nil, err
	}
	m, err := h.s.store.AddMember(ctx, room.ID, user.ID)
	if err != nil {
		return nil, err
	}
	h.s.publishMember(parley.EventMemberJoined, m)
	return connect.NewResponse(&parleyv1.AddMemberResponse{Member: memberToProto(m)}), nil
}

func (h *roomHandler) LeaveRoom(ctx context.Context, req *connect.Request[parleyv1.LeaveRoomRequest]) (*connect.Response[parleyv1.LeaveRoomResponse], error) {
	p, err := principalFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := parley.Invalid(validateID("room_id", req.Msg.GetRoomId())); err != nil {
		return nil, err
	}
	room, member, err := h.s.visibleRoom(ctx, req.Msg.GetRoomId(), p.user.ID)
	if err != nil {
		return nil, err
	}
	if !member {
		return nil, parley.Errorf(parley.EPRECONDITION, "not a member of this room")
	}
	if err := h.s.store.RemoveMember(ctx, room.ID, p.user.ID); err != nil {
		if parley.ErrorCodeOf(err) == parley.ENOTFOUND {
			return nil, parley.Errorf(parley.EPRECONDITION, "not a member of this room")
		}
		return nil, err
	}
	h.s.publishMember(parley.EventMemberLeft, parley.Member{RoomID: room.ID, User: p.user, JoinTime: h.s.now()})
	return connect.NewResponse(&parleyv1.LeaveRoomResponse{}), nil
}

func (h *roomHandler) ListMembers(ctx context.Context, req *connect.Request[parleyv1.ListMembersRequest]) (*connect.Response[parleyv1.ListMembersResponse], error) {
	p, err := principalFrom(ctx)
	if err != nil {
		return nil, err
	}
	size, v := parley.ValidatePageSize("page_size", req.Msg.GetPageSize())
	v = append(validateID("room_id", req.Msg.GetRoomId()), v...)
	if err := parley.Invalid(v); err != nil {
		return nil, err
	}
	after, err := decodePageToken("members", req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}
	room, err := h.s.memberRoom(ctx, req.Msg.GetRoomId(), p.user.ID)
	if err != nil {
		return nil, err
	}
	members, err := h.s.store.ListMembers(ctx, room.ID, after, size+1)
	if err != nil {
		return nil, err
	}
	res := &parleyv1.ListMembersResponse{}
	members, res.NextPageToken = page(members, size, "members", func(m parley.Member) string { return m.User.Username })
	for _, m := range members {
		res.Members = append(res.Members, memberToProto(m))
	}
	return connect.NewResponse(res), nil
}

// visibleRoom returns a room the user may see and whether they are a
// member. A private room looks not found to non-members, so its existence
// does not leak.
func (s *Server) visibleRoom(ctx context.Context, roomID, userID string) (parley.Room, bool, error) {
	room, err := s.store.RoomByID(ctx, roomID)
	if err != nil {
		return parley.Room{}, false, err
	}
	member, err := s.store.IsMember(ctx, roomID, userID)
	if err != nil {
		return parley.Room{}, false, err
	}
	if !member && room.Visibility == parley.Private {
		return parley.Room{}, false, parley.Errorf(parley.ENOTFOUND, "room not found")
	}
	return room, member, nil
}

// memberRoom returns a room only if the user is a member of it.
func (s *Server) memberRoom(ctx context.Context, roomID, userID string) (parley.Room, error) {
	room, member, err := s.visibleRoom(ctx, roomID, userID)
	if err != nil {
		return parley.Room{}, err
	}
	if !member {
		return parley.Room{}, parley.Errorf(parley.EFORBIDDEN, "not a member of this room: join it first")
	}
	return room, nil
}

func (s *Server) publishMember(kind parley.EventKind, m parley.Member) {
	s.broker.Publish(&parley.Event{Kind: kind, RoomID: m.RoomID, User: m.User, Time: m.JoinTime})
}
