-- The room log: every change to a room is one row with the room's next seq
-- (rooms.head_seq, bumped in the same transaction). kind is the value of
-- parley.EventKind. Existing messages become their own EventMessage rows,
-- keeping their seqs. user_id is the member (member kinds) or the sender;
-- actor_id who made the change; message_id the message a message kind is
-- about; text the new text of an edit, emptied when the message is deleted.

CREATE TABLE room_events (
	room_id     TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
	seq         INTEGER NOT NULL,
	kind        INTEGER NOT NULL,
	user_id     TEXT NOT NULL REFERENCES users (id),
	actor_id    TEXT NOT NULL REFERENCES users (id),
	message_id  TEXT REFERENCES messages (id),
	text        TEXT NOT NULL DEFAULT '',
	create_time INTEGER NOT NULL,
	PRIMARY KEY (room_id, seq)
) STRICT, WITHOUT ROWID;

INSERT INTO room_events (room_id, seq, kind, user_id, actor_id, message_id, create_time)
SELECT room_id, seq, 1, sender_id, sender_id, id, create_time FROM messages;

-- edit_time and delete_time are 0 until the message is edited or deleted.
ALTER TABLE messages ADD COLUMN edit_time INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN delete_time INTEGER NOT NULL DEFAULT 0;

-- A user's read marker per room: the seq they have read up to.
CREATE TABLE read_markers (
	room_id  TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
	user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	read_seq INTEGER NOT NULL,
	PRIMARY KEY (room_id, user_id)
) STRICT, WITHOUT ROWID;
