package server

import (
	"context"
	"time"

	"github.com/parley-chat/parley"
)

// The access rules every way in shares: who may see a room, who may read
// and post in it, and who may fetch its files. Handlers of every transport
// call these; none repeats a check.

// maxIDLen is the longest id a request may name; stores never make longer.
const maxIDLen = 64

// validateID reports what is wrong with an id naming an entity, if anything.
func validateID(field, id string) []parley.FieldViolation {
	switch {
	case id == "":
		return []parley.FieldViolation{{Field: field, Description: "is required"}}
	case len(id) > maxIDLen:
		return []parley.FieldViolation{{Field: field, Description: "is not a valid id"}}
	}
	return nil
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

// requestedRoom validates a room_id from a request, then returns the room
// as visibleRoom does for the caller: a malformed ID is invalid_argument, a
// room the caller may not see is not found.
func (s *Server) requestedRoom(ctx context.Context, p *principal, roomID string) (parley.Room, bool, error) {
	if err := parley.Invalid(validateID("room_id", roomID)); err != nil {
		return parley.Room{}, false, err
	}
	return s.visibleRoom(ctx, roomID, p.user.ID)
}

// memberRoom returns a room only if the user is a member of it: its fixed
// fields (ID, Name, Visibility, CreatorID, CreateTime), without HeadSeq
// or read state, from the auth cache if the store confirmed the
// membership at most the cache's TTL ago.
func (s *Server) memberRoom(ctx context.Context, roomID, userID string) (parley.Room, error) {
	return s.memberRoomWithin(ctx, roomID, userID, s.auth.ttl)
}

// memberRoomWithin is memberRoom trusting a membership the store
// confirmed at most maxAge ago (auth_cache.go).
func (s *Server) memberRoomWithin(ctx context.Context, roomID, userID string, maxAge time.Duration) (parley.Room, error) {
	key, now := membershipKey{user: userID, room: roomID}, s.now()
	if room, ok := s.auth.members.get(key, now, maxAge); ok {
		return room, nil
	}
	generation := s.auth.members.begin()
	room, member, err := s.visibleRoom(ctx, roomID, userID)
	if err != nil {
		return parley.Room{}, err
	}
	if !member {
		return parley.Room{}, parley.Errorf(parley.EFORBIDDEN, "not a member of this room: join it first")
	}
	room = parley.Room{ID: room.ID, Name: room.Name, Visibility: room.Visibility, CreatorID: room.CreatorID, CreateTime: room.CreateTime}
	s.auth.members.put(key, room, now, generation)
	return room, nil
}

// memberFile returns a file of a room the caller is a member of.
func (s *Server) memberFile(ctx context.Context, p *principal, id, field string) (parley.File, error) {
	if err := parley.Invalid(validateID(field, id)); err != nil {
		return parley.File{}, err
	}
	file, err := s.cfg.files.FileByID(ctx, id)
	if err != nil {
		return parley.File{}, err
	}
	if _, err := s.memberRoom(ctx, file.RoomID, p.user.ID); err != nil {
		if parley.ErrorCodeOf(err) == parley.EFORBIDDEN {
			return parley.File{}, parley.Errorf(parley.EFORBIDDEN, "not a member of the file's room")
		}
		return parley.File{}, err
	}
	return file, nil
}
