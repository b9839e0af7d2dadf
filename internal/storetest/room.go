package storetest

import (
	"slices"
	"testing"

	"github.com/parley-chat/parley"
)

var roomTests = []storeTest{
	{"CreateOK", func(t *testing.T, s parley.Store) {
		alice := CreateUser(t, s, "alice")
		r, err := s.CreateRoom(t.Context(), "general", parley.Private, alice.ID)
		if err != nil {
			t.Fatalf("CreateRoom: %v", err)
		}
		if r.ID == "" || r.Name != "general" || r.Visibility != parley.Private ||
			r.CreatorID != alice.ID || r.CreateTime.IsZero() || r.HeadSeq != 0 {
			t.Fatalf("CreateRoom = %+v", r)
		}
		got, err := s.RoomByID(t.Context(), r.ID)
		wantSame(t, "RoomByID", got, err, r, sameRoom)
	}},
	{"CreatorIsMember", func(t *testing.T, s parley.Store) {
		alice := CreateUser(t, s, "alice")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		ok, err := s.IsMember(t.Context(), r.ID, alice.ID)
		if err != nil || !ok {
			t.Fatalf("IsMember(creator) = %v, %v; want true", ok, err)
		}
		members, err := s.ListMembers(t.Context(), r.ID, "", 10)
		if err != nil {
			t.Fatalf("ListMembers: %v", err)
		}
		if len(members) != 1 || !sameUser(members[0].User, alice) || members[0].RoomID != r.ID || members[0].JoinTime.IsZero() {
			t.Errorf("ListMembers = %+v, want only alice", members)
		}
	}},
	{"ErrNameTaken", func(t *testing.T, s parley.Store) {
		alice, bob := CreateUser(t, s, "alice"), CreateUser(t, s, "bob")
		CreateRoom(t, s, "general", parley.Public, alice)
		_, err := s.CreateRoom(t.Context(), "general", parley.Private, bob.ID)
		wantCode(t, err, parley.ECONFLICT)
		rooms, err := s.ListRooms(t.Context(), bob.ID, "", 10)
		if err != nil {
			t.Fatalf("ListRooms: %v", err)
		}
		if len(rooms) != 1 {
			t.Errorf("a failed CreateRoom left %d rooms, want 1", len(rooms))
		}
	}},
	{"NamesCaseSensitive", func(t *testing.T, s parley.Store) {
		alice := CreateUser(t, s, "alice")
		for _, name := range []string{"go", "Go"} {
			if _, err := s.CreateRoom(t.Context(), name, parley.Public, alice.ID); err != nil {
				t.Errorf("CreateRoom(%q): %v", name, err)
			}
		}
	}},
	{"ErrNotFound", func(t *testing.T, s parley.Store) {
		_, err := s.RoomByID(t.Context(), "r_missing")
		wantCode(t, err, parley.ENOTFOUND)
	}},
	{"HeadSeqFollowsMessages", func(t *testing.T, s parley.Store) {
		alice := CreateUser(t, s, "alice")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		appendTexts(t, s, r, alice, 3)
		got, err := s.RoomByID(t.Context(), r.ID)
		if err != nil {
			t.Fatalf("RoomByID: %v", err)
		}
		if got.HeadSeq != 3 {
			t.Errorf("RoomByID HeadSeq = %d, want 3", got.HeadSeq)
		}
		rooms, err := s.ListRooms(t.Context(), alice.ID, "", 10)
		if err != nil {
			t.Fatalf("ListRooms: %v", err)
		}
		if len(rooms) != 1 || rooms[0].HeadSeq != 3 {
			t.Errorf("ListRooms = %+v, want general with HeadSeq 3", rooms)
		}
	}},
	{"ListVisibility", func(t *testing.T, s parley.Store) {
		alice, bob, carol := CreateUser(t, s, "alice"), CreateUser(t, s, "bob"), CreateUser(t, s, "carol")
		CreateRoom(t, s, "a-public", parley.Public, alice)
		alicePrivate := CreateRoom(t, s, "b-alice", parley.Private, alice)
		CreateRoom(t, s, "c-bob", parley.Private, bob)

		wantRooms(t, s, alice.ID, "a-public", "b-alice")
		wantRooms(t, s, bob.ID, "a-public", "c-bob")
		wantRooms(t, s, carol.ID, "a-public")
		wantRooms(t, s, "u_missing", "a-public")

		if _, err := s.AddMember(t.Context(), alicePrivate.ID, carol.ID, carol.ID, nil); err != nil {
			t.Fatalf("AddMember: %v", err)
		}
		wantRooms(t, s, carol.ID, "a-public", "b-alice")
		if err := s.RemoveMember(t.Context(), alicePrivate.ID, carol.ID, carol.ID, nil); err != nil {
			t.Fatalf("RemoveMember: %v", err)
		}
		wantRooms(t, s, carol.ID, "a-public")
	}},
	{"ListPagesByName", func(t *testing.T, s parley.Store) {
		alice := CreateUser(t, s, "alice")
		for _, name := range []string{"delta", "Bravo", "alpha", "echo", "charlie"} {
			CreateRoom(t, s, name, parley.Public, alice)
		}
		want := []string{"Bravo", "alpha", "charlie", "delta", "echo"} // byte order
		got := pageAll(t, "ListRooms", 2, len(want), func(after string, limit int) ([]parley.Room, error) {
			return s.ListRooms(t.Context(), alice.ID, after, limit)
		}, func(r parley.Room) string { return r.Name })
		if !slices.Equal(got, want) {
			t.Errorf("pages = %q, want %q", got, want)
		}
	}},
}

// pageAll reads a listing through list, limit items a page, each page
// after the key of the last item of the one before, for at most pages pages
// or until a page is empty, and returns the keys of the items in order. It
// fails the test on an error or on a page of more than limit items.
func pageAll[T any](t *testing.T, what string, limit, pages int, list func(after string, limit int) ([]T, error), key func(T) string) []string {
	t.Helper()
	var keys []string
	after := ""
	for range pages {
		page, err := list(after, limit)
		if err != nil {
			t.Fatalf("%s(after %q): %v", what, after, err)
		}
		if len(page) > limit {
			t.Fatalf("%s returned %d items, limit %d", what, len(page), limit)
		}
		if len(page) == 0 {
			break
		}
		for _, item := range page {
			keys = append(keys, key(item))
		}
		after = key(page[len(page)-1])
	}
	return keys
}

// wantRooms fails the test unless ListRooms for userID returns exactly the
// named rooms, in order.
func wantRooms(t *testing.T, s parley.Store, userID string, names ...string) {
	t.Helper()
	rooms, err := s.ListRooms(t.Context(), userID, "", 100)
	if err != nil {
		t.Fatalf("ListRooms(%q): %v", userID, err)
	}
	var got []string
	for _, r := range rooms {
		got = append(got, r.Name)
	}
	if !slices.Equal(got, names) {
		t.Errorf("ListRooms(%q) = %q, want %q", userID, got, names)
	}
}

var memberTests = []storeTest{
	{"AddOK", func(t *testing.T, s parley.Store) {
		alice, bob := CreateUser(t, s, "alice"), CreateUser(t, s, "bob")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		m, err := s.AddMember(t.Context(), r.ID, bob.ID, bob.ID, nil)
		if err != nil {
			t.Fatalf("AddMember: %v", err)
		}
		if m.RoomID != r.ID || !sameUser(m.User, bob) || m.JoinTime.IsZero() {
			t.Errorf("AddMember = %+v, want bob in %s with a join time", m, r.ID)
		}
		ok, err := s.IsMember(t.Context(), r.ID, bob.ID)
		if err != nil || !ok {
			t.Errorf("IsMember = %v, %v; want true", ok, err)
		}
		members, err := s.ListMembers(t.Context(), r.ID, "alice", 10)
		if err != nil {
			t.Fatalf("ListMembers: %v", err)
		}
		if len(members) != 1 || !sameUser(members[0].User, bob) || !members[0].JoinTime.Equal(m.JoinTime) {
			t.Errorf("ListMembers = %+v, want %+v", members, m)
		}
	}},
	{"ErrAlreadyMember", func(t *testing.T, s parley.Store) {
		alice := CreateUser(t, s, "alice")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		_, err := s.AddMember(t.Context(), r.ID, alice.ID, alice.ID, nil)
		wantCode(t, err, parley.ECONFLICT)
	}},
	{"ErrAddRoomNotFound", func(t *testing.T, s parley.Store) {
		alice := CreateUser(t, s, "alice")
		_, err := s.AddMember(t.Context(), "r_missing", alice.ID, alice.ID, nil)
		wantCode(t, err, parley.ENOTFOUND)
	}},
	{"ErrAddUserNotFound", func(t *testing.T, s parley.Store) {
		alice := CreateUser(t, s, "alice")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		_, err := s.AddMember(t.Context(), r.ID, "u_missing", "u_missing", nil)
		wantCode(t, err, parley.ENOTFOUND)
	}},
	{"RemoveOK", func(t *testing.T, s parley.Store) {
		alice, bob := CreateUser(t, s, "alice"), CreateUser(t, s, "bob")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		if _, err := s.AddMember(t.Context(), r.ID, bob.ID, bob.ID, nil); err != nil {
			t.Fatalf("AddMember: %v", err)
		}
		if err := s.RemoveMember(t.Context(), r.ID, bob.ID, bob.ID, nil); err != nil {
			t.Fatalf("RemoveMember: %v", err)
		}
		ok, err := s.IsMember(t.Context(), r.ID, bob.ID)
		if err != nil || ok {
			t.Errorf("IsMember after removal = %v, %v; want false", ok, err)
		}
		if _, err := s.AddMember(t.Context(), r.ID, bob.ID, bob.ID, nil); err != nil {
			t.Errorf("AddMember after removal: %v", err)
		}
	}},
	{"ErrRemoveNotMember", func(t *testing.T, s parley.Store) {
		alice, bob := CreateUser(t, s, "alice"), CreateUser(t, s, "bob")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		wantCode(t, s.RemoveMember(t.Context(), r.ID, bob.ID, bob.ID, nil), parley.ENOTFOUND)
		wantCode(t, s.RemoveMember(t.Context(), "r_missing", alice.ID, alice.ID, nil), parley.ENOTFOUND)
	}},
	{"IsMemberFalse", func(t *testing.T, s parley.Store) {
		alice, bob := CreateUser(t, s, "alice"), CreateUser(t, s, "bob")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		for _, tc := range []struct{ room, user string }{
			{r.ID, bob.ID},
			{r.ID, "u_missing"},
			{"r_missing", alice.ID},
		} {
			ok, err := s.IsMember(t.Context(), tc.room, tc.user)
			if err != nil || ok {
				t.Errorf("IsMember(%s, %s) = %v, %v; want false, nil", tc.room, tc.user, ok, err)
			}
		}
	}},
	{"ListPagesByUsername", func(t *testing.T, s parley.Store) {
		creator := CreateUser(t, s, "mallory")
		r := CreateRoom(t, s, "general", parley.Public, creator)
		for _, name := range []string{"dave", "bob", "erin", "alice", "carol"} {
			u := CreateUser(t, s, name)
			if _, err := s.AddMember(t.Context(), r.ID, u.ID, u.ID, nil); err != nil {
				t.Fatalf("AddMember(%s): %v", name, err)
			}
		}
		CreateUser(t, s, "zed") // not a member
		want := []string{"alice", "bob", "carol", "dave", "erin", "mallory"}
		got := pageAll(t, "ListMembers", 4, len(want), func(after string, limit int) ([]parley.Member, error) {
			page, err := s.ListMembers(t.Context(), r.ID, after, limit)
			for _, m := range page {
				if m.RoomID != r.ID {
					t.Errorf("member %s has RoomID %q, want %q", m.User.Username, m.RoomID, r.ID)
				}
			}
			return page, err
		}, func(m parley.Member) string { return m.User.Username })
		if !slices.Equal(got, want) {
			t.Errorf("pages = %q, want %q", got, want)
		}
	}},
	{"ErrListRoomNotFound", func(t *testing.T, s parley.Store) {
		_, err := s.ListMembers(t.Context(), "r_missing", "", 10)
		wantCode(t, err, parley.ENOTFOUND)
	}},
}
