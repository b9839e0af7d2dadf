-- Files and resumable uploads. A message keeps a snapshot of its
-- attachments (files never change once stored) as JSON in attachments.

ALTER TABLE messages ADD COLUMN attachments TEXT NOT NULL DEFAULT '';

CREATE TABLE files (
	id           TEXT PRIMARY KEY,
	room_id      TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	content_type TEXT NOT NULL,
	size         INTEGER NOT NULL,
	sha256       TEXT NOT NULL,
	uploader_id  TEXT NOT NULL REFERENCES users (id),
	create_time  INTEGER NOT NULL
) STRICT;

CREATE TABLE uploads (
	id           TEXT PRIMARY KEY,
	uploader_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	room_id      TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	content_type TEXT NOT NULL,
	size         INTEGER NOT NULL,
	sha256       TEXT NOT NULL,
	create_time  INTEGER NOT NULL,
	-- file_id is set once every byte arrived and the hash matched.
	file_id      TEXT REFERENCES files (id)
) STRICT;
