package postgres

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/parley-chat/parley"
)

// storedAttachment is how a message keeps a snapshot of one attachment, in
// its jsonb attachments column (files never change once stored).
type storedAttachment struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	UploaderID  string    `json:"uploader_id"`
	Uploader    string    `json:"uploader"`
	UploaderAt  time.Time `json:"uploader_create_time"`
	CreateTime  time.Time `json:"create_time"`
}

// encodeAttachments returns the jsonb value for files: nil (NULL) for none.
func encodeAttachments(files []parley.File) ([]byte, error) {
	if len(files) == 0 {
		return nil, nil
	}
	stored := make([]storedAttachment, len(files))
	for i, f := range files {
		stored[i] = storedAttachment{
			ID: f.ID, Name: f.Name, ContentType: f.ContentType, Size: f.Size, SHA256: f.SHA256,
			UploaderID: f.Uploader.ID, Uploader: f.Uploader.Username, UploaderAt: f.Uploader.CreateTime.UTC(),
			CreateTime: f.CreateTime.UTC(),
		}
	}
	b, err := json.Marshal(stored)
	if err != nil {
		return nil, fmt.Errorf("encode attachments: %w", err)
	}
	return b, nil
}

func decodeAttachments(roomID string, b []byte) ([]parley.File, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var stored []storedAttachment
	if err := json.Unmarshal(b, &stored); err != nil {
		return nil, fmt.Errorf("decode attachments: %w", err)
	}
	files := make([]parley.File, len(stored))
	for i, a := range stored {
		files[i] = parley.File{
			ID: a.ID, RoomID: roomID, Name: a.Name, ContentType: a.ContentType, Size: a.Size, SHA256: a.SHA256,
			Uploader:   parley.User{ID: a.UploaderID, Username: a.Uploader, CreateTime: a.UploaderAt.UTC()},
			CreateTime: a.CreateTime.UTC(),
		}
	}
	return files, nil
}
