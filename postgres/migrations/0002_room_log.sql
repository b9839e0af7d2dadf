-- The room log: every change to a room is one row with the room's next seq
-- (rooms.head_seq, bumped in the same transaction, which row-locks the
-- room). kind is the value of parley.EventKind. Existing messages become
-- their own EventMessage rows, keeping their seqs. user_id is the member
-- (member kinds) or the sender; actor_id who made the change; message_id
-- the message a message kind is about; text the new text of an edit,
-- emptied when the message is deleted.

CREATE TABLE room_events (
	room_id     text NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
	seq         bigint NOT NULL,
	kind        integer NOT NULL,
	user_id     text NOT NULL REFERENCES users (id),
	actor_id    text NOT NULL REFERENCES users (id),
	message_id  text REFERENCES messages (id),
	text        text NOT NULL DEFAULT '',
	create_time timestamptz NOT NULL,
	PRIMARY KEY (room_id, seq)
);

INSERT INTO room_events (room_id, seq, kind, user_id, actor_id, message_id, create_time)
SELECT room_id, seq, 1, sender_id, sender_id, id, create_time FROM messages;

-- edit_time and delete_time are NULL until the message is edited or deleted.
ALTER TABLE messages ADD COLUMN edit_time timestamptz;
ALTER TABLE messages ADD COLUMN delete_time timestamptz;

-- A user's read marker per room: the seq they have read up to.
CREATE TABLE read_markers (
	room_id  text NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
	user_id  text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	read_seq bigint NOT NULL,
	PRIMARY KEY (room_id, user_id)
);
