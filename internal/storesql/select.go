// Package storesql holds the SQL text that the postgres and sqlite adapters
// share word for word: the column lists and SELECT heads over the tables
// both schemas define the same way. Placeholders, WHERE clauses and
// anything else that differs between the engines stay in each adapter.
package storesql

// RoomColumns are the rooms columns scanned into a parley.Room, in order.
const RoomColumns = `id, name, visibility, creator_id, create_time, head_seq`

// UploadColumns are the uploads columns scanned into a parley.Upload, in
// order; file_id is the empty string until the upload completes.
const UploadColumns = `id, uploader_id, room_id, name, content_type, size, sha256, create_time, coalesce(file_id, '')`

// FileSelect selects a file with its uploader, the columns in the order a
// parley.File is scanned; callers append WHERE and ORDER BY.
const FileSelect = `
	SELECT f.id, f.room_id, f.name, f.content_type, f.size, f.sha256, f.create_time,
	       u.id, u.username, u.create_time
	FROM files f JOIN users u ON u.id = f.uploader_id`

// MessageSelect selects a message with its sender, the columns in the
// order a parley.Message is scanned; callers append WHERE and ORDER BY.
const MessageSelect = `
	SELECT m.id, m.room_id, m.seq, m.text, m.client_message_id, m.create_time,
	       m.attachments, m.edit_time, m.delete_time, u.id, u.username, u.create_time
	FROM messages m JOIN users u ON u.id = m.sender_id`

// EventSelect selects a room log entry with its user, its actor and, for
// message events, the message's seq (0 otherwise); callers append WHERE
// and ORDER BY.
const EventSelect = `
	SELECT e.seq, e.kind, e.text, e.create_time,
	       u.id, u.username, u.create_time, a.id, a.username, a.create_time,
	       coalesce(m.seq, 0)
	FROM room_events e
	JOIN users u ON u.id = e.user_id
	JOIN users a ON a.id = e.actor_id
	LEFT JOIN messages m ON m.id = e.message_id`
