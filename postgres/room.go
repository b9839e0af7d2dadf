package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/storesql"
)

func scanRoom(row pgx.Row) (parley.Room, error) {
	var (
		r          parley.Room
		visibility string
	)
	if err := row.Scan(&r.ID, &r.Name, &visibility, &r.CreatorID, &r.CreateTime, &r.HeadSeq); err != nil {
		return parley.Room{}, err
	}
	if err := r.Visibility.UnmarshalText([]byte(visibility)); err != nil {
		return parley.Room{}, err
	}
	r.CreateTime = r.CreateTime.UTC()
	return r, nil
}

// CreateRoom stores a room and makes its creator a member, in one
// transaction, stamped with the Store's clock. ECONFLICT if the name is
// taken; names compare case-sensitively. ENOTFOUND if the creator does not
// exist; EINVALID for an unknown visibility.
func (s *Store) CreateRoom(ctx context.Context, name string, v parley.Visibility, creatorID string) (parley.Room, error) {
	visibility, err := v.MarshalText()
	if err != nil {
		return parley.Room{}, err
	}
	r := parley.Room{ID: newID("r_"), Name: name, Visibility: v, CreatorID: creatorID, CreateTime: s.stamp()}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx,
			`INSERT INTO rooms (id, name, visibility, creator_id, create_time) VALUES ($1, $2, $3, $4, $5)`,
			r.ID, r.Name, string(visibility), r.CreatorID, r.CreateTime)
		if err = insertErr(err, "insert room", "room name already taken"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx,
			`INSERT INTO members (room_id, user_id, join_time) VALUES ($1, $2, $3)`, r.ID, creatorID, r.CreateTime); err != nil {
			return wrap("insert creator membership", err)
		}
		return nil
	})
	if err != nil {
		return parley.Room{}, txErr("create room", err)
	}
	return r, nil
}

// txErr adds context to an error from pgx.BeginFunc unless it is already a
// domain error.
func txErr(what string, err error) error {
	var perr *parley.Error
	if errors.As(err, &perr) {
		return err
	}
	return wrap(what, err)
}

// RoomByID returns a room with its current head seq. ENOTFOUND if none.
func (s *Store) RoomByID(ctx context.Context, id string) (parley.Room, error) {
	r, err := scanRoom(s.pool.QueryRow(ctx, `SELECT `+storesql.RoomColumns+` FROM rooms WHERE id = $1`, id))
	if err != nil {
		return parley.Room{}, rowErr(err, "select room", "room not found")
	}
	return r, nil
}

// ListRooms returns up to limit rooms visible to userID (public ones and
// those userID is a member of) whose name sorts after afterName, by name
// (byte order), each with its current head seq.
//
// By default, that is when limit is not positive, it returns up to
// parley.DefaultPageSize rooms.
func (s *Store) ListRooms(ctx context.Context, userID, afterName string, limit int) ([]parley.Room, error) {
	if limit <= 0 {
		limit = parley.DefaultPageSize
	}
	return queryAll(ctx, s.pool, "select rooms", scanRoom, `
		SELECT `+storesql.RoomColumns+` FROM rooms
		WHERE name > $1
		  AND (visibility = $2 OR EXISTS (
		      SELECT 1 FROM members WHERE members.room_id = rooms.id AND members.user_id = $3))
		ORDER BY name
		LIMIT $4`,
		afterName, parley.Public.String(), userID, limit)
}

// roomExists returns ENOTFOUND if there is no room with the id.
func roomExists(ctx context.Context, q querier, id string) error {
	var one int
	err := q.QueryRow(ctx, `SELECT 1 FROM rooms WHERE id = $1`, id).Scan(&one)
	if err != nil {
		return rowErr(err, "select room", "room not found")
	}
	return nil
}

// AddMember makes userID a member of roomID, joining now by the Store's
// clock, and logs EventMemberJoined (actorID == userID) or
// EventMemberAdded with the room's next seq, in one transaction; publish,
// if not nil, gets the event after commit. ECONFLICT if already one;
// ENOTFOUND if the room, the user or the actor does not exist. It does not
// check the room's visibility: that is the caller's decision.
func (s *Store) AddMember(ctx context.Context, roomID, userID, actorID string, publish func(*parley.Event)) (parley.Member, error) {
	kind := parley.MemberAddedKind(userID, actorID)
	unlock := s.rooms.Lock(roomID)
	defer unlock()
	joined := s.stamp()
	var ev *parley.Event
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		seq, err := nextSeq(ctx, tx, roomID) // locks the room: its members change one at a time
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx,
			`INSERT INTO members (room_id, user_id, join_time) VALUES ($1, $2, $3)`, roomID, userID, joined)
		if err = insertErr(err, "insert member", "already a member"); err != nil {
			return err
		}
		ev, err = logMemberEvent(ctx, tx, roomID, seq, kind, userID, actorID, joined)
		return err
	})
	if err != nil {
		return parley.Member{}, txErr("add member", err)
	}
	if publish != nil {
		publish(ev)
	}
	return parley.Member{RoomID: roomID, User: ev.User, JoinTime: joined}, nil
}

// RemoveMember ends a membership and logs EventMemberLeft (actorID ==
// userID) or EventMemberRemoved with the room's next seq, in one
// transaction; publish, if not nil, gets the event after commit. ENOTFOUND
// if there was none, including when the room or the user does not exist.
func (s *Store) RemoveMember(ctx context.Context, roomID, userID, actorID string, publish func(*parley.Event)) error {
	kind := parley.MemberRemovedKind(userID, actorID)
	unlock := s.rooms.Lock(roomID)
	defer unlock()
	left := s.stamp()
	var ev *parley.Event
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		seq, err := nextSeq(ctx, tx, roomID)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM members WHERE room_id = $1 AND user_id = $2`, roomID, userID)
		if err != nil {
			return wrap("delete member", err)
		}
		if tag.RowsAffected() == 0 {
			return parley.Errorf(parley.ENOTFOUND, "not a member")
		}
		ev, err = logMemberEvent(ctx, tx, roomID, seq, kind, userID, actorID, left)
		return err
	})
	if err != nil {
		return txErr("remove member", err)
	}
	if publish != nil {
		publish(ev)
	}
	return nil
}

// IsMember reports whether userID is a member of roomID; false, not an
// error, when the room or the user does not exist.
func (s *Store) IsMember(ctx context.Context, roomID, userID string) (bool, error) {
	var member bool
	err := s.pool.QueryRow(ctx,
		`SELECT EXISTS (SELECT 1 FROM members WHERE room_id = $1 AND user_id = $2)`,
		roomID, userID).Scan(&member)
	if err != nil {
		return false, wrap("select member", err)
	}
	return member, nil
}

// ListMembers returns up to limit members of roomID whose username sorts
// after afterUsername, by username. ENOTFOUND if the room does not exist.
//
// By default, that is when limit is not positive, it returns up to
// parley.DefaultPageSize members.
func (s *Store) ListMembers(ctx context.Context, roomID, afterUsername string, limit int) ([]parley.Member, error) {
	if limit <= 0 {
		limit = parley.DefaultPageSize
	}
	if err := roomExists(ctx, s.pool, roomID); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT m.join_time, u.id, u.username, u.create_time
		FROM members m JOIN users u ON u.id = m.user_id
		WHERE m.room_id = $1 AND u.username > $2
		ORDER BY u.username
		LIMIT $3`,
		roomID, afterUsername, limit)
	if err != nil {
		return nil, wrap("select members", err)
	}
	members, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (parley.Member, error) {
		m := parley.Member{RoomID: roomID}
		if err := row.Scan(&m.JoinTime, &m.User.ID, &m.User.Username, &m.User.CreateTime); err != nil {
			return parley.Member{}, err
		}
		m.JoinTime = m.JoinTime.UTC()
		m.User.CreateTime = m.User.CreateTime.UTC()
		return m, nil
	})
	if err != nil {
		return nil, wrap("select members", err)
	}
	return members, nil
}
