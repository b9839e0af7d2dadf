package postgres

import (
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/attachment"
)

// encodeAttachments returns the jsonb value of a message's attachments
// column: nil (NULL) for none.
func encodeAttachments(files []parley.File) ([]byte, error) {
	return attachment.Encode(files, utc)
}

func decodeAttachments(roomID string, b []byte) ([]parley.File, error) {
	return attachment.Decode(roomID, b, utc)
}

// utc is how the snapshot of an attachment keeps its times.
func utc(t time.Time) time.Time { return t.UTC() }
