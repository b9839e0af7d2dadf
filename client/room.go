package client

import (
	"context"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
)

// maxPages bounds the pages ListRooms and ListMembers follow, so a server
// that keeps answering with a next page cannot keep the client forever.
const maxPages = 1000

// CreateRoom creates a room with the caller as its first member.
// Errors: EINVALID, ECONFLICT (name taken).
func (c *Client) CreateRoom(ctx context.Context, name string, v parley.Visibility) (parley.Room, error) {
	res, err := unary(ctx, c, c.rooms.CreateRoom, &parleyv1.CreateRoomRequest{Name: name, Visibility: visibilityToProto(v)})
	if err != nil {
		return parley.Room{}, err
	}
	return roomFromProto(res.GetRoom()), nil
}

// GetRoom returns a room the caller may see. Errors: ENOTFOUND.
func (c *Client) GetRoom(ctx context.Context, roomID string) (parley.Room, error) {
	res, err := unary(ctx, c, c.rooms.GetRoom, &parleyv1.GetRoomRequest{RoomId: roomID})
	if err != nil {
		return parley.Room{}, err
	}
	return roomFromProto(res.GetRoom()), nil
}

// ListRooms returns every public room and every room the caller is a
// member of, ordered by name, following all pages.
func (c *Client) ListRooms(ctx context.Context) ([]parley.Room, error) {
	var rooms []parley.Room
	token := ""
	for range maxPages {
		res, err := c.listRoomsPage(ctx, token)
		if err != nil {
			return nil, err
		}
		for _, r := range res.GetRooms() {
			rooms = append(rooms, roomFromProto(r))
		}
		if token = res.GetNextPageToken(); token == "" {
			break
		}
	}
	return rooms, nil
}

func (c *Client) listRoomsPage(ctx context.Context, token string) (*parleyv1.ListRoomsResponse, error) {
	res, err := unary(ctx, c, c.rooms.ListRooms, &parleyv1.ListRoomsRequest{PageSize: parley.MaxPageSize, PageToken: token})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// JoinRoom makes the caller a member of a public room; joining again
// changes nothing. Errors: ENOTFOUND, EFORBIDDEN (private room).
func (c *Client) JoinRoom(ctx context.Context, roomID string) (parley.Room, error) {
	res, err := unary(ctx, c, c.rooms.JoinRoom, &parleyv1.JoinRoomRequest{RoomId: roomID})
	if err != nil {
		return parley.Room{}, err
	}
	return roomFromProto(res.GetRoom()), nil
}

// AddMember adds a user to a room the caller is a member of.
// Errors: ENOTFOUND (room or user), EFORBIDDEN, ECONFLICT (already a member).
func (c *Client) AddMember(ctx context.Context, roomID, username string) (parley.Member, error) {
	res, err := unary(ctx, c, c.rooms.AddMember, &parleyv1.AddMemberRequest{RoomId: roomID, Username: username})
	if err != nil {
		return parley.Member{}, err
	}
	return memberFromProto(roomID, res.GetMember()), nil
}

// LeaveRoom removes the caller from a room.
// Errors: ENOTFOUND, EPRECONDITION (not a member).
func (c *Client) LeaveRoom(ctx context.Context, roomID string) error {
	_, err := unary(ctx, c, c.rooms.LeaveRoom, &parleyv1.LeaveRoomRequest{RoomId: roomID})
	return err
}

// ListMembers returns a room's members ordered by username, following all
// pages. Errors: ENOTFOUND, EFORBIDDEN (caller not a member).
func (c *Client) ListMembers(ctx context.Context, roomID string) ([]parley.Member, error) {
	var members []parley.Member
	token := ""
	for range maxPages {
		res, err := c.listMembersPage(ctx, roomID, token)
		if err != nil {
			return nil, err
		}
		for _, m := range res.GetMembers() {
			members = append(members, memberFromProto(roomID, m))
		}
		if token = res.GetNextPageToken(); token == "" {
			break
		}
	}
	return members, nil
}

func (c *Client) listMembersPage(ctx context.Context, roomID, token string) (*parleyv1.ListMembersResponse, error) {
	res, err := unary(ctx, c, c.rooms.ListMembers, &parleyv1.ListMembersRequest{RoomId: roomID, PageSize: parley.MaxPageSize, PageToken: token})
	if err != nil {
		return nil, err
	}
	return res, nil
}
