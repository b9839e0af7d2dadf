package server

import (
	"context"
	"time"

	"github.com/parley-chat/parley"
)

// observedStore is the store as the server calls it when an Observer
// watches store operations: each call starts with StoreOp, named by the
// method, and ends with its outcome.
type observedStore struct {
	parley.Store
	start func(ctx context.Context, op string) (context.Context, func(error))
}

func (s *observedStore) CreateUser(ctx context.Context, username string, passwordHash []byte) (_ parley.User, err error) {
	ctx, done := s.start(ctx, "CreateUser")
	defer func() { done(err) }()
	return s.Store.CreateUser(ctx, username, passwordHash)
}

func (s *observedStore) UserByUsername(ctx context.Context, username string) (_ parley.User, _ []byte, err error) {
	ctx, done := s.start(ctx, "UserByUsername")
	defer func() { done(err) }()
	return s.Store.UserByUsername(ctx, username)
}

func (s *observedStore) UserByID(ctx context.Context, id string) (_ parley.User, err error) {
	ctx, done := s.start(ctx, "UserByID")
	defer func() { done(err) }()
	return s.Store.UserByID(ctx, id)
}

func (s *observedStore) CreateSession(ctx context.Context, session parley.Session) (err error) {
	ctx, done := s.start(ctx, "CreateSession")
	defer func() { done(err) }()
	return s.Store.CreateSession(ctx, session)
}

func (s *observedStore) SessionUser(ctx context.Context, tokenHash []byte, now time.Time) (_ parley.Session, _ parley.User, err error) {
	ctx, done := s.start(ctx, "SessionUser")
	defer func() { done(err) }()
	return s.Store.SessionUser(ctx, tokenHash, now)
}

func (s *observedStore) ExtendSession(ctx context.Context, tokenHash []byte, expire time.Time) (err error) {
	ctx, done := s.start(ctx, "ExtendSession")
	defer func() { done(err) }()
	return s.Store.ExtendSession(ctx, tokenHash, expire)
}

func (s *observedStore) DeleteSession(ctx context.Context, tokenHash []byte) (err error) {
	ctx, done := s.start(ctx, "DeleteSession")
	defer func() { done(err) }()
	return s.Store.DeleteSession(ctx, tokenHash)
}

func (s *observedStore) CreateRoom(ctx context.Context, name string, v parley.Visibility, creatorID string) (_ parley.Room, err error) {
	ctx, done := s.start(ctx, "CreateRoom")
	defer func() { done(err) }()
	return s.Store.CreateRoom(ctx, name, v, creatorID)
}

func (s *observedStore) RoomByID(ctx context.Context, id string) (_ parley.Room, err error) {
	ctx, done := s.start(ctx, "RoomByID")
	defer func() { done(err) }()
	return s.Store.RoomByID(ctx, id)
}

func (s *observedStore) ListRooms(ctx context.Context, userID, afterName string, limit int) (_ []parley.Room, err error) {
	ctx, done := s.start(ctx, "ListRooms")
	defer func() { done(err) }()
	return s.Store.ListRooms(ctx, userID, afterName, limit)
}

func (s *observedStore) AddMember(ctx context.Context, roomID, userID, actorID string, publish func(*parley.Event)) (_ parley.Member, err error) {
	ctx, done := s.start(ctx, "AddMember")
	defer func() { done(err) }()
	return s.Store.AddMember(ctx, roomID, userID, actorID, publish)
}

func (s *observedStore) RemoveMember(ctx context.Context, roomID, userID, actorID string, publish func(*parley.Event)) (err error) {
	ctx, done := s.start(ctx, "RemoveMember")
	defer func() { done(err) }()
	return s.Store.RemoveMember(ctx, roomID, userID, actorID, publish)
}

func (s *observedStore) MarkRead(ctx context.Context, roomID, userID string, seq int64) (_ int64, err error) {
	ctx, done := s.start(ctx, "MarkRead")
	defer func() { done(err) }()
	return s.Store.MarkRead(ctx, roomID, userID, seq)
}

func (s *observedStore) ReadStates(ctx context.Context, userID string, roomIDs []string) (_ map[string]parley.ReadState, err error) {
	ctx, done := s.start(ctx, "ReadStates")
	defer func() { done(err) }()
	return s.Store.ReadStates(ctx, userID, roomIDs)
}

func (s *observedStore) IsMember(ctx context.Context, roomID, userID string) (_ bool, err error) {
	ctx, done := s.start(ctx, "IsMember")
	defer func() { done(err) }()
	return s.Store.IsMember(ctx, roomID, userID)
}

func (s *observedStore) ListMembers(ctx context.Context, roomID, afterUsername string, limit int) (_ []parley.Member, err error) {
	ctx, done := s.start(ctx, "ListMembers")
	defer func() { done(err) }()
	return s.Store.ListMembers(ctx, roomID, afterUsername, limit)
}

func (s *observedStore) AppendMessage(ctx context.Context, m parley.NewMessage, publish func(*parley.Message)) (_ parley.Message, _ bool, err error) {
	ctx, done := s.start(ctx, "AppendMessage")
	defer func() { done(err) }()
	return s.Store.AppendMessage(ctx, m, publish)
}

func (s *observedStore) ListMessages(ctx context.Context, roomID string, q parley.HistoryQuery) (_ []parley.Message, _ int64, err error) {
	ctx, done := s.start(ctx, "ListMessages")
	defer func() { done(err) }()
	return s.Store.ListMessages(ctx, roomID, q)
}

func (s *observedStore) MessageBySeq(ctx context.Context, roomID string, seq int64) (_ parley.Message, err error) {
	ctx, done := s.start(ctx, "MessageBySeq")
	defer func() { done(err) }()
	return s.Store.MessageBySeq(ctx, roomID, seq)
}

func (s *observedStore) EditMessage(ctx context.Context, e parley.MessageEdit, publish func(*parley.Event)) (_ *parley.Event, _ bool, err error) {
	ctx, done := s.start(ctx, "EditMessage")
	defer func() { done(err) }()
	return s.Store.EditMessage(ctx, e, publish)
}

func (s *observedStore) DeleteMessage(ctx context.Context, roomID string, seq int64, actorID string, publish func(*parley.Event)) (_ *parley.Event, _ bool, err error) {
	ctx, done := s.start(ctx, "DeleteMessage")
	defer func() { done(err) }()
	return s.Store.DeleteMessage(ctx, roomID, seq, actorID, publish)
}

func (s *observedStore) ListEvents(ctx context.Context, roomID string, after int64, limit int) (_ []*parley.Event, _ int64, err error) {
	ctx, done := s.start(ctx, "ListEvents")
	defer func() { done(err) }()
	return s.Store.ListEvents(ctx, roomID, after, limit)
}

func (s *observedStore) Ping(ctx context.Context) (err error) {
	ctx, done := s.start(ctx, "Ping")
	defer func() { done(err) }()
	return s.Store.Ping(ctx)
}
