-- Times are Unix nanoseconds (UTC). Text compares with the BINARY collation,
-- so usernames and room names are unique case-sensitively.

CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	username      TEXT NOT NULL UNIQUE,
	password_hash BLOB NOT NULL,
	create_time   INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
	token_hash  BLOB PRIMARY KEY,
	user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	create_time INTEGER NOT NULL,
	expire_time INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE rooms (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE,
	visibility  TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
	creator_id  TEXT NOT NULL REFERENCES users (id),
	create_time INTEGER NOT NULL,
	-- head_seq is the seq of the newest message, 0 if none. AppendMessage
	-- bumps it in the transaction that inserts the message.
	head_seq    INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE members (
	room_id   TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
	user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	join_time INTEGER NOT NULL,
	PRIMARY KEY (room_id, user_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX members_user_id ON members (user_id);

CREATE TABLE messages (
	id                TEXT PRIMARY KEY,
	room_id           TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
	seq               INTEGER NOT NULL,
	sender_id         TEXT NOT NULL REFERENCES users (id),
	text              TEXT NOT NULL,
	client_message_id TEXT NOT NULL,
	create_time       INTEGER NOT NULL,
	UNIQUE (room_id, seq),
	UNIQUE (sender_id, client_message_id)
) STRICT;
