package sqlite

import (
	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/attachment"
)

// encodeAttachments returns the value of a message's attachments column:
// "" for none.
func encodeAttachments(files []parley.File) (string, error) {
	b, err := attachment.Encode(files, nanos)
	return string(b), err
}

func decodeAttachments(roomID, s string) ([]parley.File, error) {
	return attachment.Decode(roomID, []byte(s), fromNanos)
}
