package sqlite

import (
	"encoding/json"
	"fmt"

	"github.com/parley-chat/parley"
)

// storedAttachment is how a message keeps a snapshot of one attachment.
type storedAttachment struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	UploaderID  string `json:"uploader_id"`
	Uploader    string `json:"uploader"`
	UploaderAt  int64  `json:"uploader_create_time"`
	CreateTime  int64  `json:"create_time"`
}

func encodeAttachments(files []parley.File) (string, error) {
	if len(files) == 0 {
		return "", nil
	}
	stored := make([]storedAttachment, len(files))
	for i, f := range files {
		stored[i] = storedAttachment{
			ID: f.ID, Name: f.Name, ContentType: f.ContentType, Size: f.Size, SHA256: f.SHA256,
			UploaderID: f.Uploader.ID, Uploader: f.Uploader.Username, UploaderAt: nanos(f.Uploader.CreateTime),
			CreateTime: nanos(f.CreateTime),
		}
	}
	b, err := json.Marshal(stored)
	if err != nil {
		return "", fmt.Errorf("encode attachments: %w", err)
	}
	return string(b), nil
}

func decodeAttachments(roomID, s string) ([]parley.File, error) {
	if s == "" {
		return nil, nil
	}
	var stored []storedAttachment
	if err := json.Unmarshal([]byte(s), &stored); err != nil {
		return nil, fmt.Errorf("decode attachments: %w", err)
	}
	files := make([]parley.File, len(stored))
	for i, a := range stored {
		files[i] = parley.File{
			ID: a.ID, RoomID: roomID, Name: a.Name, ContentType: a.ContentType, Size: a.Size, SHA256: a.SHA256,
			Uploader:   parley.User{ID: a.UploaderID, Username: a.Uploader, CreateTime: fromNanos(a.UploaderAt)},
			CreateTime: fromNanos(a.CreateTime),
		}
	}
	return files, nil
}
