-- Times are timestamptz (microseconds). Text compares with the "C" collation,
-- so usernames and room names are unique and sort byte-wise, case-sensitively,
-- whatever the database's default collation is.

CREATE TABLE users (
	id            text PRIMARY KEY,
	username      text COLLATE "C" NOT NULL UNIQUE,
	password_hash bytea NOT NULL,
	create_time   timestamptz NOT NULL
);

CREATE TABLE sessions (
	token_hash  bytea PRIMARY KEY,
	user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	create_time timestamptz NOT NULL,
	expire_time timestamptz NOT NULL
);

CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE rooms (
	id          text PRIMARY KEY,
	name        text COLLATE "C" NOT NULL UNIQUE,
	visibility  text NOT NULL CHECK (visibility IN ('public', 'private')),
	creator_id  text NOT NULL REFERENCES users (id),
	create_time timestamptz NOT NULL,
	-- head_seq is the seq of the newest message, 0 if none. AppendMessage
	-- bumps it in the transaction that inserts the message; the UPDATE
	-- row-locks the room, which serialises writers of one room across every
	-- replica until commit.
	head_seq    bigint NOT NULL DEFAULT 0
);

CREATE TABLE members (
	room_id   text NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
	user_id   text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	join_time timestamptz NOT NULL,
	PRIMARY KEY (room_id, user_id)
);

CREATE INDEX members_user_id ON members (user_id);

CREATE TABLE messages (
	id                text PRIMARY KEY,
	room_id           text NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
	seq               bigint NOT NULL,
	sender_id         text NOT NULL REFERENCES users (id),
	text              text NOT NULL,
	client_message_id text NOT NULL,
	create_time       timestamptz NOT NULL,
	-- attachments is a snapshot of the message's files (they never change),
	-- NULL for none.
	attachments       jsonb,
	UNIQUE (room_id, seq),
	UNIQUE (sender_id, client_message_id)
);
