package postgres_test

import (
	"testing"

	"github.com/parley-chat/parley/internal/pgtest"
	"github.com/parley-chat/parley/internal/storetest"
)

// schemaV1 is the schema main shipped before the room log (migration 1):
// the fixture of TestMigrateKeepsMessageSeqs.
const schemaV1 = `
CREATE TABLE schema_version (version integer PRIMARY KEY);
INSERT INTO schema_version VALUES (1);
CREATE TABLE users (id text PRIMARY KEY, username text COLLATE "C" NOT NULL UNIQUE, password_hash bytea NOT NULL, create_time timestamptz NOT NULL);
CREATE TABLE sessions (token_hash bytea PRIMARY KEY, user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE, create_time timestamptz NOT NULL, expire_time timestamptz NOT NULL);
CREATE TABLE rooms (id text PRIMARY KEY, name text COLLATE "C" NOT NULL UNIQUE, visibility text NOT NULL CHECK (visibility IN ('public', 'private')), creator_id text NOT NULL REFERENCES users (id), create_time timestamptz NOT NULL, head_seq bigint NOT NULL DEFAULT 0);
CREATE TABLE members (room_id text NOT NULL REFERENCES rooms (id) ON DELETE CASCADE, user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE, join_time timestamptz NOT NULL, PRIMARY KEY (room_id, user_id));
CREATE TABLE messages (id text PRIMARY KEY, room_id text NOT NULL REFERENCES rooms (id) ON DELETE CASCADE, seq bigint NOT NULL, sender_id text NOT NULL REFERENCES users (id), text text NOT NULL, client_message_id text NOT NULL, create_time timestamptz NOT NULL, attachments jsonb, UNIQUE (room_id, seq), UNIQUE (sender_id, client_message_id));
INSERT INTO users VALUES ('u_alice', 'alice', '\x00', now()), ('u_bob', 'bob', '\x00', now());
INSERT INTO rooms VALUES ('r_a', 'a', 'public', 'u_alice', now(), 30);
INSERT INTO members VALUES ('r_a', 'u_alice', now()), ('r_a', 'u_bob', now());
INSERT INTO messages (id, room_id, seq, sender_id, text, client_message_id, create_time)
SELECT 'm_a' || g, 'r_a', g, CASE WHEN g % 2 = 0 THEN 'u_alice' ELSE 'u_bob' END, 'text ' || g, 'c_a' || g, now()
FROM generate_series(1, 30) AS g;
`

// TestMigrateKeepsMessageSeqs builds a schema as it was before the room
// log, fills it, opens it with the current Store and finds every message
// with its seq, as its own EventMessage in the log; the next change to the
// room takes the seq after the old head.
func TestMigrateKeepsMessageSeqs(t *testing.T) {
	t.Parallel()
	schema, u := pgtest.Schema(t, 4)
	conn := pgtest.Connect(t)
	if _, err := conn.Exec(t.Context(), `SET search_path TO `+schema+`;`+schemaV1); err != nil {
		t.Fatalf("old schema: %v", err)
	}
	s := open(t, u)
	storetest.WantMigratedLog(t, s, "r_a", "m_a", 30)
	ev, _, err := s.DeleteMessage(t.Context(), "r_a", 5, "u_alice", nil)
	if err != nil || ev.Seq != 31 {
		t.Fatalf("first delete after migration: %+v, %v; want seq 31", ev, err)
	}
}
