package sqlite_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/storetest"
)

// schemaV2 is the schema main shipped before the room log (migrations 1
// and 2), as its tables were: the fixture of TestMigrateKeepsMessageSeqs.
const schemaV2 = `
CREATE TABLE schema_version (version INTEGER PRIMARY KEY) STRICT;
INSERT INTO schema_version VALUES (1), (2);
CREATE TABLE users (id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, password_hash BLOB NOT NULL, create_time INTEGER NOT NULL) STRICT;
CREATE TABLE sessions (token_hash BLOB PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE, create_time INTEGER NOT NULL, expire_time INTEGER NOT NULL) STRICT, WITHOUT ROWID;
CREATE TABLE rooms (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private')), creator_id TEXT NOT NULL REFERENCES users (id), create_time INTEGER NOT NULL, head_seq INTEGER NOT NULL DEFAULT 0) STRICT;
CREATE TABLE members (room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE, user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE, join_time INTEGER NOT NULL, PRIMARY KEY (room_id, user_id)) STRICT, WITHOUT ROWID;
CREATE TABLE messages (id TEXT PRIMARY KEY, room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE, seq INTEGER NOT NULL, sender_id TEXT NOT NULL REFERENCES users (id), text TEXT NOT NULL, client_message_id TEXT NOT NULL, create_time INTEGER NOT NULL, attachments TEXT NOT NULL DEFAULT '', UNIQUE (room_id, seq), UNIQUE (sender_id, client_message_id)) STRICT;
CREATE TABLE files (id TEXT PRIMARY KEY, room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE, name TEXT NOT NULL, content_type TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, uploader_id TEXT NOT NULL REFERENCES users (id), create_time INTEGER NOT NULL) STRICT;
CREATE TABLE uploads (id TEXT PRIMARY KEY, uploader_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE, room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE, name TEXT NOT NULL, content_type TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, create_time INTEGER NOT NULL, file_id TEXT REFERENCES files (id)) STRICT;
INSERT INTO users VALUES ('u_alice', 'alice', x'00', 1000), ('u_bob', 'bob', x'00', 1000);
INSERT INTO rooms VALUES ('r_a', 'a', 'public', 'u_alice', 2000, 30), ('r_b', 'b', 'private', 'u_bob', 2000, 2);
INSERT INTO members VALUES ('r_a', 'u_alice', 2000), ('r_a', 'u_bob', 2000), ('r_b', 'u_bob', 2000);
`

// TestMigrateKeepsMessageSeqs builds a database with the schema before the
// room log, fills it, opens it with the current Store and finds every
// message with its seq, as its own EventMessage in the log; the next change
// to the room takes the seq after the old head.
func TestMigrateKeepsMessageSeqs(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), schemaV2); err != nil {
		t.Fatalf("old schema: %v", err)
	}
	for seq := 1; seq <= 30; seq++ {
		sender := []string{"u_alice", "u_bob"}[seq%2]
		if _, err := db.ExecContext(t.Context(), `INSERT INTO messages (id, room_id, seq, sender_id, text, client_message_id, create_time) VALUES (?, 'r_a', ?, ?, ?, ?, ?)`,
			fmt.Sprintf("m_a%d", seq), seq, sender, fmt.Sprintf("text %d", seq), fmt.Sprintf("c_a%d", seq), 3000+seq); err != nil {
			t.Fatal(err)
		}
	}
	for seq := 1; seq <= 2; seq++ {
		if _, err := db.ExecContext(t.Context(), `INSERT INTO messages (id, room_id, seq, sender_id, text, client_message_id, create_time) VALUES (?, 'r_b', ?, 'u_bob', 'b', ?, 4000)`,
			fmt.Sprintf("m_b%d", seq), seq, fmt.Sprintf("c_b%d", seq)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s := open(t, path)
	ctx := t.Context()
	storetest.WantMigratedLog(t, s, "r_a", "m_a", 30)
	if _, err := s.MessageBySeq(ctx, "r_b", 2); err != nil {
		t.Fatalf("MessageBySeq(r_b, 2): %v", err)
	}
	ev, _, err := s.EditMessage(ctx, parley.MessageEdit{RoomID: "r_a", Seq: 5, EditorID: "u_bob", Text: "new"}, nil)
	if err != nil || ev.Seq != 31 {
		t.Fatalf("first edit after migration: %+v, %v; want seq 31", ev, err)
	}
	states, err := s.ReadStates(ctx, "u_alice", []string{"r_a"})
	if err != nil || states["r_a"].Unread != 15 {
		t.Fatalf("ReadStates: %+v, %v; want bob's 15 messages unread", states, err)
	}
}
