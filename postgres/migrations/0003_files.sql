-- Files and resumable uploads (parley.FileStore, file.go), and file
-- contents (parley.BlobStore, blob.go), in the database every replica
-- shares: an upload may continue on any replica and a file be downloaded
-- from any. A message keeps a snapshot of its attachments in
-- messages.attachments, so nothing references files.

CREATE TABLE files (
	id           text PRIMARY KEY,
	room_id      text NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
	name         text NOT NULL,
	content_type text NOT NULL,
	size         bigint NOT NULL,
	sha256       text NOT NULL,
	uploader_id  text NOT NULL REFERENCES users (id),
	create_time  timestamptz NOT NULL
);

CREATE INDEX files_uploader_id ON files (uploader_id);

CREATE TABLE uploads (
	id           text PRIMARY KEY,
	uploader_id  text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	room_id      text NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
	name         text NOT NULL,
	content_type text NOT NULL,
	size         bigint NOT NULL,
	sha256       text NOT NULL,
	create_time  timestamptz NOT NULL,
	-- file_id is set once every byte arrived and the hash matched.
	file_id      text REFERENCES files (id)
);

CREATE INDEX uploads_uploader_id ON uploads (uploader_id);
CREATE INDEX uploads_incomplete ON uploads (create_time, id) WHERE file_id IS NULL;

-- A content is a run of chunks: the partial content of an upload (upload_id
-- set) or, once its SHA-256 matched, a verified content (sha256 set, each
-- content stored once). Committing relabels the row, so no chunk is copied.
-- No foreign key to uploads: a BlobStore stands apart from the FileStore.
CREATE TABLE blob_contents (
	id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	upload_id text UNIQUE,
	sha256    text UNIQUE,
	-- size is the sum of the chunks' lengths: where the next chunk starts.
	size      bigint NOT NULL DEFAULT 0,
	CHECK ((upload_id IS NULL) <> (sha256 IS NULL))
);

-- A chunk is the data of one Append, at byte pos of its content.
CREATE TABLE blob_chunks (
	content_id bigint NOT NULL REFERENCES blob_contents (id) ON DELETE CASCADE,
	pos        bigint NOT NULL,
	data       bytea NOT NULL,
	PRIMARY KEY (content_id, pos)
);

-- Out of line and uncompressed: most files (images, archives) are
-- compressed already, and trying again would cost every Append CPU time.
ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
