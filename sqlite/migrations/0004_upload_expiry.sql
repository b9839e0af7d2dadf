-- Indexes for upload expiry (the unfinished uploads, oldest first) and for
-- the stored-bytes quota (a user's files and unfinished uploads).

CREATE INDEX uploads_unfinished_by_create_time ON uploads (create_time, id) WHERE file_id IS NULL;
CREATE INDEX uploads_unfinished_by_uploader ON uploads (uploader_id) WHERE file_id IS NULL;
CREATE INDEX files_uploader_id ON files (uploader_id);
