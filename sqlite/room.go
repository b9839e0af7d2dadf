package sqlite

import (
	"context"
	"fmt"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/storesql"
)

func scanRoom(row interface{ Scan(...any) error }) (parley.Room, error) {
	var (
		r          parley.Room
		visibility string
		n          int64
	)
	if err := row.Scan(&r.ID, &r.Name, &visibility, &r.CreatorID, &n, &r.HeadSeq); err != nil {
		return parley.Room{}, err
	}
	if err := r.Visibility.UnmarshalText([]byte(visibility)); err != nil {
		return parley.Room{}, err
	}
	r.CreateTime = fromNanos(n)
	return r, nil
}

// CreateRoom stores a room and makes its creator a member, in one
// transaction, stamped with the Store's clock. ECONFLICT if the name is
// taken; names compare case-sensitively, so "Go" and "go" are two rooms.
// ENOTFOUND if the creator does not exist; EINVALID for an unknown
// visibility.
func (s *Store) CreateRoom(ctx context.Context, name string, v parley.Visibility, creatorID string) (parley.Room, error) {
	visibility, err := v.MarshalText()
	if err != nil {
		return parley.Room{}, err
	}
	created, n := s.stamp()
	r := parley.Room{ID: newID("r_"), Name: name, Visibility: v, CreatorID: creatorID, CreateTime: created}

	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return parley.Room{}, fmt.Errorf("begin create room: %w", err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx,
		`INSERT INTO rooms (id, name, visibility, creator_id, create_time) VALUES (?, ?, ?, ?, ?)`,
		r.ID, r.Name, string(visibility), r.CreatorID, n)
	if err = insertErr(err, "insert room", "room name already taken"); err != nil {
		return parley.Room{}, err
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO members (room_id, user_id, join_time) VALUES (?, ?, ?)`, r.ID, creatorID, n); err != nil {
		return parley.Room{}, fmt.Errorf("insert creator membership: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return parley.Room{}, fmt.Errorf("commit create room: %w", err)
	}
	return r, nil
}

// RoomByID returns a room with its current head seq. ENOTFOUND if none.
func (s *Store) RoomByID(ctx context.Context, id string) (parley.Room, error) {
	r, err := scanRoom(s.read.QueryRowContext(ctx, `SELECT `+storesql.RoomColumns+` FROM rooms WHERE id = ?`, id))
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
	return queryAll(ctx, s.read, "select rooms", scanRoom, `
		SELECT `+storesql.RoomColumns+` FROM rooms
		WHERE name > ?
		  AND (visibility = ? OR EXISTS (
		      SELECT 1 FROM members WHERE members.room_id = rooms.id AND members.user_id = ?))
		ORDER BY name
		LIMIT ?`,
		afterName, parley.Public.String(), userID, limit)
}

// roomExists returns ENOTFOUND if there is no room with the id.
func roomExists(ctx context.Context, q querier, id string) error {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM rooms WHERE id = ?`, id).Scan(&one)
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
	joined, n := s.stamp()
	kind := parley.MemberAddedKind(userID, actorID)
	var ev *parley.Event
	err := s.inWriteTx(ctx, "add member", func(tx *preparedTx) error {
		if err := roomExists(ctx, tx, roomID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO members (room_id, user_id, join_time) VALUES (?, ?, ?)`, roomID, userID, n)
		if err = insertErr(err, "insert member", "already a member"); err != nil {
			return err
		}
		ev, err = s.logMemberEvent(ctx, tx, roomID, kind, userID, actorID, joined, n)
		return err
	})
	if err != nil {
		return parley.Member{}, err
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
	left, n := s.stamp()
	kind := parley.MemberRemovedKind(userID, actorID)
	var ev *parley.Event
	err := s.inWriteTx(ctx, "remove member", func(tx *preparedTx) error {
		k, err := execCount(ctx, tx, "delete member", `DELETE FROM members WHERE room_id = ? AND user_id = ?`, roomID, userID)
		if err != nil {
			return err
		}
		if k == 0 {
			return parley.Errorf(parley.ENOTFOUND, "not a member")
		}
		ev, err = s.logMemberEvent(ctx, tx, roomID, kind, userID, actorID, left, n)
		return err
	})
	if err != nil {
		return err
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
	err := s.read.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM members WHERE room_id = ? AND user_id = ?)`,
		roomID, userID).Scan(&member)
	if err != nil {
		return false, fmt.Errorf("select member: %w", err)
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
	if err := roomExists(ctx, s.read, roomID); err != nil {
		return nil, err
	}
	rows, err := s.read.QueryContext(ctx, `
		SELECT m.join_time, u.id, u.username, u.create_time
		FROM members m JOIN users u ON u.id = m.user_id
		WHERE m.room_id = ? AND u.username > ?
		ORDER BY u.username
		LIMIT ?`,
		roomID, afterUsername, limit)
	if err != nil {
		return nil, fmt.Errorf("select members: %w", err)
	}
	defer rows.Close()
	var members []parley.Member
	for rows.Next() {
		var (
			m              parley.Member
			joined, userNs int64
		)
		if err := rows.Scan(&joined, &m.User.ID, &m.User.Username, &userNs); err != nil {
			return nil, fmt.Errorf("scan member: %w", err)
		}
		m.RoomID = roomID
		m.JoinTime = fromNanos(joined)
		m.User.CreateTime = fromNanos(userNs)
		members = append(members, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select members: %w", err)
	}
	return members, nil
}
