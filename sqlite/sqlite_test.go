package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/disk"
	"github.com/parley-chat/parley/internal/storetest"
	"github.com/parley-chat/parley/sqlite"
)

func open(t *testing.T, path string, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// aliceIn stores the user alice and rooms of hers with the given names, or
// fails the test.
func aliceIn(t *testing.T, s *sqlite.Store, v parley.Visibility, rooms ...string) (parley.User, []parley.Room) {
	t.Helper()
	alice := storetest.CreateUser(t, s, "alice")
	var out []parley.Room
	for _, name := range rooms {
		out = append(out, storetest.CreateRoom(t, s, name, v, alice))
	}
	return alice, out
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) parley.Store {
		return open(t, filepath.Join(t.TempDir(), "parley.db"))
	})
}

// TestExpiry runs the expiry suite over SQLite and the disk blob store,
// the pair parleyd runs without --db.
func TestExpiry(t *testing.T) {
	t.Parallel()
	storetest.RunExpiry(t, func(t *testing.T) storetest.FileEngine {
		s := open(t, filepath.Join(t.TempDir(), "parley.db"))
		blobs, err := disk.New(filepath.Join(t.TempDir(), "files"))
		if err != nil {
			t.Fatalf("disk.New: %v", err)
		}
		return storetest.FileEngine{Store: s, Files: s, Blobs: blobs}
	})
}

func TestReopenKeepsEverything(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "parley.db")

	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	alice, rooms := aliceIn(t, s, parley.Private, "general")
	room := rooms[0]
	expire := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	session := parley.Session{TokenHash: []byte("token"), UserID: alice.ID, CreateTime: expire.Add(-time.Hour), ExpireTime: expire}
	if err := s.CreateSession(ctx, session); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	first, _, err := s.AppendMessage(ctx, parley.NewMessage{RoomID: room.ID, SenderID: alice.ID, Text: "before", ClientMessageID: "c1"}, nil)
	if err != nil {
		t.Fatalf("AppendMessage: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	for i := range 2 { // the second re-open must find the schema current too
		s = open(t, path)
		if u, _, err := s.UserByUsername(ctx, "alice"); err != nil || u != alice {
			t.Errorf("re-open %d: UserByUsername = %+v, %v; want %+v", i, u, err, alice)
		}
		if _, u, err := s.SessionUser(ctx, session.TokenHash, expire.Add(-time.Minute)); err != nil || u != alice {
			t.Errorf("re-open %d: SessionUser = %+v, %v; want %+v", i, u, err, alice)
		}
		if r, err := s.RoomByID(ctx, room.ID); err != nil || r.Name != "general" || r.HeadSeq != int64(i+1) {
			t.Errorf("re-open %d: RoomByID = %+v, %v; want general with head %d", i, r, err, i+1)
		}
		if ok, err := s.IsMember(ctx, room.ID, alice.ID); err != nil || !ok {
			t.Errorf("re-open %d: IsMember = %v, %v; want true", i, ok, err)
		}
		retry, created, err := s.AppendMessage(ctx, parley.NewMessage{RoomID: room.ID, SenderID: alice.ID, Text: "again", ClientMessageID: "c1"}, nil)
		if err != nil || created || !reflect.DeepEqual(retry, first) {
			t.Errorf("re-open %d: retry = %+v, created %v, %v; want %+v", i, retry, created, err, first)
		}
		next, _, err := s.AppendMessage(ctx, parley.NewMessage{RoomID: room.ID, SenderID: alice.ID, Text: "after", ClientMessageID: "after" + string(rune('0'+i))}, nil)
		if err != nil || next.Seq != int64(i+2) {
			t.Errorf("re-open %d: AppendMessage = seq %d, %v; want seq %d", i, next.Seq, err, i+2)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var versions int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM schema_version`).Scan(&versions); err != nil {
		t.Fatalf("read schema_version: %v", err)
	}
	migrations, _ := filepath.Glob("migrations/*.sql")
	if versions != len(migrations) {
		t.Errorf("schema_version has %d rows after three opens, want %d (one per migration)", versions, len(migrations))
	}
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
}

func TestWithNowStampsExactly(t *testing.T) {
	t.Parallel()
	now := time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 3600))
	s := open(t, filepath.Join(t.TempDir(), "parley.db"), sqlite.WithNow(func() time.Time { return now }))
	ctx := t.Context()

	u, rooms := aliceIn(t, s, parley.Public, "general")
	r := rooms[0]
	m, _, err := s.AppendMessage(ctx, parley.NewMessage{RoomID: r.ID, SenderID: u.ID, Text: "hi", ClientMessageID: "c1"}, nil)
	if err != nil {
		t.Fatalf("AppendMessage: %v", err)
	}
	want := now.UTC()
	for name, got := range map[string]time.Time{"user": u.CreateTime, "room": r.CreateTime, "message": m.CreateTime} {
		if got != want {
			t.Errorf("%s CreateTime = %v, want %v", name, got, want)
		}
	}
	msgs, _, err := s.ListMessages(ctx, r.ID, parley.HistoryQuery{})
	if err != nil || len(msgs) != 1 || !reflect.DeepEqual(msgs[0], m) {
		t.Errorf("ListMessages = %+v, %v; want exactly %+v", msgs, err, m)
	}
	members, err := s.ListMembers(ctx, r.ID, "", 0)
	if err != nil || len(members) != 1 || members[0].JoinTime != want {
		t.Errorf("ListMembers = %+v, %v; want alice joined at %v", members, err, want)
	}
}

func TestOpenErr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, path string }{
		{"ErrMemory", ":memory:"},
		{"ErrEmpty", ""},
		{"ErrQuery", filepath.Join(t.TempDir(), "x.db?mode=ro")},
		{"ErrMissingDir", filepath.Join(t.TempDir(), "missing", "x.db")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := sqlite.Open(context.Background(), tc.path)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tc.path)
			}
		})
	}
}
