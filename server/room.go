package server

import (
	"context"

	"github.com/parley-chat/parley"
)

// The rooms core: create, list, join, add, leave and list members, in
// domain types. room_connect.go adapts it to parley.v1.RoomService.

// createRoom makes a room with the caller as its creator and first member.
// A visibility other than Public and Private is a field violation.
func (s *Server) createRoom(ctx context.Context, p *principal, name string, visibility parley.Visibility) (parley.Room, error) {
	v := parley.ValidateRoomName("name", name)
	if visibility != parley.Public && visibility != parley.Private {
		v = append(v, parley.FieldViolation{Field: "visibility", Description: "must be VISIBILITY_PUBLIC or VISIBILITY_PRIVATE"})
	}
	if err := parley.Invalid(v); err != nil {
		return parley.Room{}, err
	}
	if err := s.quotas.createRoom(p.user.ID); err != nil {
		return parley.Room{}, err
	}
	return s.store.CreateRoom(ctx, name, visibility, p.user.ID)
}

// getRoom returns a room the caller may see.
func (s *Server) getRoom(ctx context.Context, p *principal, roomID string) (parley.Room, error) {
	room, _, err := s.requestedRoom(ctx, p, roomID)
	if err != nil {
		return parley.Room{}, err
	}
	rooms := []parley.Room{room}
	if err := s.withReadStates(ctx, p, rooms); err != nil {
		return parley.Room{}, err
	}
	return rooms[0], nil
}

// listRooms returns one page of the rooms the caller may see, by name, and
// the token of the next page ("" on the last).
func (s *Server) listRooms(ctx context.Context, p *principal, pageSize int32, pageToken string) ([]parley.Room, string, error) {
	size, v := parley.ValidatePageSize("page_size", pageSize)
	if err := parley.Invalid(v); err != nil {
		return nil, "", err
	}
	after, err := decodePageToken("rooms", pageToken)
	if err != nil {
		return nil, "", err
	}
	rooms, err := s.store.ListRooms(ctx, p.user.ID, after, size+1)
	if err != nil {
		return nil, "", err
	}
	rooms, next := page(rooms, size, "rooms", func(r parley.Room) string { return r.Name })
	if err := s.withReadStates(ctx, p, rooms); err != nil {
		return nil, "", err
	}
	return rooms, next, nil
}

// joinRoom makes the caller a member of a room they may see; joining a
// room twice is not an error.
func (s *Server) joinRoom(ctx context.Context, p *principal, roomID string) (parley.Room, error) {
	room, member, err := s.requestedRoom(ctx, p, roomID)
	if err != nil {
		return parley.Room{}, err
	}
	if !member { // visibleRoom hides private rooms from non-members
		_, err := s.store.AddMember(ctx, room.ID, p.user.ID, p.user.ID, s.publisher(ctx))
		if err != nil && parley.ErrorCodeOf(err) != parley.ECONFLICT {
			return parley.Room{}, err
		}
	}
	return room, nil
}

// addMember makes another user a member of a room the caller belongs to.
// Whether it succeeds tells whether the username exists, so it is limited
// per caller (quota.go).
func (s *Server) addMember(ctx context.Context, p *principal, roomID, username string) (parley.Member, error) {
	v := append(validateID("room_id", roomID), parley.ValidateUsername("username", username)...)
	if err := parley.Invalid(v); err != nil {
		return parley.Member{}, err
	}
	if err := s.quotas.addMember(p.user.ID); err != nil {
		return parley.Member{}, err
	}
	room, err := s.memberRoom(ctx, roomID, p.user.ID)
	if err != nil {
		return parley.Member{}, err
	}
	user, _, err := s.store.UserByUsername(ctx, username)
	if err != nil {
		return parley.Member{}, err
	}
	return s.store.AddMember(ctx, room.ID, user.ID, p.user.ID, s.publisher(ctx))
}

// leaveRoom ends the caller's membership, and their streams of the room on
// every replica; failed_precondition if there is none.
func (s *Server) leaveRoom(ctx context.Context, p *principal, roomID string) error {
	room, member, err := s.requestedRoom(ctx, p, roomID)
	if err != nil {
		return err
	}
	if !member {
		return parley.Errorf(parley.EPRECONDITION, "not a member of this room")
	}
	if err := s.store.RemoveMember(ctx, room.ID, p.user.ID, p.user.ID, s.publisher(ctx)); err != nil {
		if parley.ErrorCodeOf(err) == parley.ENOTFOUND {
			return parley.Errorf(parley.EPRECONDITION, "not a member of this room")
		}
		return err
	}
	// After the event: the leaver's own streams here still show it.
	s.revoke(ctx, parley.Revocation{UserID: p.user.ID, RoomID: room.ID})
	return nil
}

// listMembers returns one page of a room's members, by username, and the
// token of the next page ("" on the last).
func (s *Server) listMembers(ctx context.Context, p *principal, roomID string, pageSize int32, pageToken string) ([]parley.Member, string, error) {
	size, v := parley.ValidatePageSize("page_size", pageSize)
	v = append(validateID("room_id", roomID), v...)
	if err := parley.Invalid(v); err != nil {
		return nil, "", err
	}
	after, err := decodePageToken("members", pageToken)
	if err != nil {
		return nil, "", err
	}
	room, err := s.memberRoom(ctx, roomID, p.user.ID)
	if err != nil {
		return nil, "", err
	}
	members, err := s.store.ListMembers(ctx, room.ID, after, size+1)
	if err != nil {
		return nil, "", err
	}
	members, next := page(members, size, "members", func(m parley.Member) string { return m.User.Username })
	return members, next, nil
}
