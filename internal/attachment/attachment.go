// Package attachment is how the storage engines keep a message's
// attachments: a JSON snapshot of each file in the message's row (files
// never change once stored, so the snapshot is what the message was sent
// with). The engines differ only in how they write a time, T: PostgreSQL
// as a time.Time (RFC 3339), SQLite as Unix nanoseconds.
package attachment

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/parley-chat/parley"
)

// stored is the snapshot of one attachment; its JSON names are in the
// databases already, so they never change.
type stored[T any] struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	UploaderID  string `json:"uploader_id"`
	Uploader    string `json:"uploader"`
	UploaderAt  T      `json:"uploader_create_time"`
	CreateTime  T      `json:"create_time"`
}

// Encode returns the JSON snapshot of files, with each time written as
// toStored makes it; nil for no files.
func Encode[T any](files []parley.File, toStored func(time.Time) T) ([]byte, error) {
	if len(files) == 0 {
		return nil, nil
	}
	s := make([]stored[T], len(files))
	for i, f := range files {
		s[i] = stored[T]{
			ID: f.ID, Name: f.Name, ContentType: f.ContentType, Size: f.Size, SHA256: f.SHA256,
			UploaderID: f.Uploader.ID, Uploader: f.Uploader.Username, UploaderAt: toStored(f.Uploader.CreateTime),
			CreateTime: toStored(f.CreateTime),
		}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode attachments: %w", err)
	}
	return b, nil
}

// Decode returns the files of roomID in the snapshot b that Encode made
// with the same T, each time read back by fromStored; nil for an empty b.
func Decode[T any](roomID string, b []byte, fromStored func(T) time.Time) ([]parley.File, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var s []stored[T]
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode attachments: %w", err)
	}
	files := make([]parley.File, len(s))
	for i, a := range s {
		files[i] = parley.File{
			ID: a.ID, RoomID: roomID, Name: a.Name, ContentType: a.ContentType, Size: a.Size, SHA256: a.SHA256,
			Uploader:   parley.User{ID: a.UploaderID, Username: a.Uploader, CreateTime: fromStored(a.UploaderAt)},
			CreateTime: fromStored(a.CreateTime),
		}
	}
	return files, nil
}
