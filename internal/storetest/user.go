package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

var userTests = []storeTest{
	{"CreateOK", func(t *testing.T, s parley.Store) {
		u, err := s.CreateUser(t.Context(), "alice", []byte("secret hash"))
		if err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		if u.ID == "" || u.Username != "alice" || u.CreateTime.IsZero() {
			t.Fatalf("CreateUser = %+v, want an id, username alice and a create time", u)
		}
		byName, hash, err := s.UserByUsername(t.Context(), "alice")
		if err != nil {
			t.Fatalf("UserByUsername: %v", err)
		}
		if !sameUser(byName, u) || !bytes.Equal(hash, []byte("secret hash")) {
			t.Errorf("UserByUsername = %+v, %q; want %+v, %q", byName, hash, u, "secret hash")
		}
		byID, err := s.UserByID(t.Context(), u.ID)
		wantSame(t, "UserByID", byID, err, u, sameUser)
	}},
	{"DistinctIDs", func(t *testing.T, s parley.Store) {
		a, b := CreateUser(t, s, "alice"), CreateUser(t, s, "bob")
		if a.ID == b.ID {
			t.Errorf("two users share id %q", a.ID)
		}
	}},
	{"ErrUsernameTaken", func(t *testing.T, s parley.Store) {
		CreateUser(t, s, "alice")
		_, err := s.CreateUser(t.Context(), "alice", []byte("other"))
		wantCode(t, err, parley.ECONFLICT)
	}},
	{"ErrUsernameNotFound", func(t *testing.T, s parley.Store) {
		CreateUser(t, s, "alice")
		_, _, err := s.UserByUsername(t.Context(), "bob")
		wantCode(t, err, parley.ENOTFOUND)
	}},
	{"ErrIDNotFound", func(t *testing.T, s parley.Store) {
		_, err := s.UserByID(t.Context(), "u_missing")
		wantCode(t, err, parley.ENOTFOUND)
	}},
}

var sessionTests = []storeTest{
	{"LookupOK", func(t *testing.T, s parley.Store) {
		u := CreateUser(t, s, "alice")
		want := parley.Session{
			TokenHash:  []byte{1, 2, 3, 0, 255},
			UserID:     u.ID,
			CreateTime: baseTime,
			ExpireTime: baseTime.Add(time.Hour),
		}
		if err := s.CreateSession(t.Context(), want); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		got, gotUser, err := s.SessionUser(t.Context(), want.TokenHash, baseTime.Add(time.Minute))
		if err != nil {
			t.Fatalf("SessionUser: %v", err)
		}
		if !bytes.Equal(got.TokenHash, want.TokenHash) || got.UserID != want.UserID ||
			!got.CreateTime.Equal(want.CreateTime) || !got.ExpireTime.Equal(want.ExpireTime) {
			t.Errorf("SessionUser session = %+v, want %+v", got, want)
		}
		if !sameUser(gotUser, u) {
			t.Errorf("SessionUser user = %+v, want %+v", gotUser, u)
		}
	}},
	{"ExpiresAtExpireTime", func(t *testing.T, s parley.Store) {
		u := CreateUser(t, s, "alice")
		expire := baseTime.Add(time.Hour)
		hash := []byte("token")
		if err := s.CreateSession(t.Context(), parley.Session{TokenHash: hash, UserID: u.ID, CreateTime: baseTime, ExpireTime: expire}); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		if _, _, err := s.SessionUser(t.Context(), hash, expire.Add(-time.Second)); err != nil {
			t.Errorf("a second before expiry: %v", err)
		}
		_, _, err := s.SessionUser(t.Context(), hash, expire)
		wantCode(t, err, parley.EUNAUTHORIZED)
		_, _, err = s.SessionUser(t.Context(), hash, expire.Add(time.Second))
		wantCode(t, err, parley.EUNAUTHORIZED)
	}},
	{"ErrUnknownToken", func(t *testing.T, s parley.Store) {
		_, _, err := s.SessionUser(t.Context(), []byte("nope"), baseTime)
		wantCode(t, err, parley.EUNAUTHORIZED)
	}},
	{"ExtendMovesExpiry", func(t *testing.T, s parley.Store) {
		u := CreateUser(t, s, "alice")
		hash := []byte("token")
		if err := s.CreateSession(t.Context(), parley.Session{TokenHash: hash, UserID: u.ID, CreateTime: baseTime, ExpireTime: baseTime.Add(time.Minute)}); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		later := baseTime.Add(time.Hour)
		if err := s.ExtendSession(t.Context(), hash, later); err != nil {
			t.Fatalf("ExtendSession: %v", err)
		}
		got, _, err := s.SessionUser(t.Context(), hash, later.Add(-time.Second))
		if err != nil {
			t.Fatalf("a second before the new expiry: %v", err)
		}
		if !got.ExpireTime.Equal(later) || !got.CreateTime.Equal(baseTime) {
			t.Errorf("extended session = %+v, want created %v, expiring %v", got, baseTime, later)
		}
		_, _, err = s.SessionUser(t.Context(), hash, later)
		wantCode(t, err, parley.EUNAUTHORIZED)
		wantCode(t, s.ExtendSession(t.Context(), []byte("nope"), later), parley.ENOTFOUND)
	}},
	{"DeleteRevokes", func(t *testing.T, s parley.Store) {
		u := CreateUser(t, s, "alice")
		hash := []byte("token")
		if err := s.CreateSession(t.Context(), parley.Session{TokenHash: hash, UserID: u.ID, CreateTime: baseTime, ExpireTime: baseTime.Add(time.Hour)}); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		if err := s.DeleteSession(t.Context(), hash); err != nil {
			t.Fatalf("DeleteSession: %v", err)
		}
		_, _, err := s.SessionUser(t.Context(), hash, baseTime)
		wantCode(t, err, parley.EUNAUTHORIZED)
		if err := s.DeleteSession(t.Context(), hash); err != nil {
			t.Errorf("DeleteSession of a missing session: %v", err)
		}
	}},
	{"DeleteLeavesOthers", func(t *testing.T, s parley.Store) {
		u := CreateUser(t, s, "alice")
		for _, h := range []string{"one", "two"} {
			if err := s.CreateSession(t.Context(), parley.Session{TokenHash: []byte(h), UserID: u.ID, CreateTime: baseTime, ExpireTime: baseTime.Add(time.Hour)}); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
		}
		if err := s.DeleteSession(t.Context(), []byte("one")); err != nil {
			t.Fatalf("DeleteSession: %v", err)
		}
		if _, _, err := s.SessionUser(t.Context(), []byte("two"), baseTime); err != nil {
			t.Errorf("other session: %v", err)
		}
	}},
}
