package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/storesql"
)

var _ parley.FileStore = (*Store)(nil)

func scanUpload(row interface{ Scan(...any) error }) (parley.Upload, error) {
	var (
		u parley.Upload
		n int64
	)
	err := row.Scan(&u.ID, &u.UploaderID, &u.Meta.RoomID, &u.Meta.Name, &u.Meta.ContentType,
		&u.Meta.Size, &u.Meta.SHA256, &n, &u.FileID)
	if err != nil {
		return parley.Upload{}, err
	}
	u.CreateTime = fromNanos(n)
	return u, nil
}

func scanFile(row interface{ Scan(...any) error }) (parley.File, error) {
	var (
		f             parley.File
		n, uploaderAt int64
	)
	err := row.Scan(&f.ID, &f.RoomID, &f.Name, &f.ContentType, &f.Size, &f.SHA256, &n,
		&f.Uploader.ID, &f.Uploader.Username, &uploaderAt)
	if err != nil {
		return parley.File{}, err
	}
	f.CreateTime = fromNanos(n)
	f.Uploader.CreateTime = fromNanos(uploaderAt)
	return f, nil
}

// CreateUpload records a new upload, stamped with the Store's clock.
// ENOTFOUND if the room or the uploader does not exist.
func (s *Store) CreateUpload(ctx context.Context, uploaderID string, meta parley.UploadMeta) (parley.Upload, error) {
	created, n := s.stamp()
	u := parley.Upload{ID: newID("up_"), UploaderID: uploaderID, Meta: meta, CreateTime: created}
	_, err := s.write.ExecContext(ctx, `
		INSERT INTO uploads (id, uploader_id, room_id, name, content_type, size, sha256, create_time)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, uploaderID, meta.RoomID, meta.Name, meta.ContentType, meta.Size, meta.SHA256, n)
	switch {
	case isForeignKey(err):
		return parley.Upload{}, parley.Errorf(parley.ENOTFOUND, "room or user not found")
	case err != nil:
		return parley.Upload{}, fmt.Errorf("insert upload: %w", err)
	}
	return u, nil
}

// UploadByID returns an upload. ENOTFOUND if none.
func (s *Store) UploadByID(ctx context.Context, id string) (parley.Upload, error) {
	u, err := scanUpload(s.read.QueryRowContext(ctx, `SELECT `+storesql.UploadColumns+` FROM uploads WHERE id = ?`, id))
	if err != nil {
		return parley.Upload{}, rowErr(err, "select upload", "upload not found")
	}
	return u, nil
}

// CompleteUpload records the upload's file and links the two in one
// transaction. Completing a completed upload returns its file.
func (s *Store) CompleteUpload(ctx context.Context, uploadID string) (parley.File, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return parley.File{}, fmt.Errorf("begin complete upload: %w", err)
	}
	defer tx.Rollback()
	u, err := scanUpload(tx.QueryRowContext(ctx, `SELECT `+storesql.UploadColumns+` FROM uploads WHERE id = ?`, uploadID))
	if err != nil {
		return parley.File{}, rowErr(err, "select upload", "upload not found")
	}
	if u.FileID != "" {
		return fileByID(ctx, tx, u.FileID)
	}
	_, n := s.stamp()
	id := newID("f_")
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO files (id, room_id, name, content_type, size, sha256, uploader_id, create_time)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		id, u.Meta.RoomID, u.Meta.Name, u.Meta.ContentType, u.Meta.Size, u.Meta.SHA256, u.UploaderID, n); err != nil {
		return parley.File{}, fmt.Errorf("insert file: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE uploads SET file_id = ? WHERE id = ?`, id, uploadID); err != nil {
		return parley.File{}, fmt.Errorf("link upload: %w", err)
	}
	f, err := fileByID(ctx, tx, id)
	if err != nil {
		return parley.File{}, err
	}
	if err := tx.Commit(); err != nil {
		return parley.File{}, fmt.Errorf("commit complete upload: %w", err)
	}
	return f, nil
}

// DeleteUpload forgets an upload that is not complete; a completed or
// missing one is left alone.
func (s *Store) DeleteUpload(ctx context.Context, id string) error {
	if _, err := s.write.ExecContext(ctx, `DELETE FROM uploads WHERE id = ? AND file_id IS NULL`, id); err != nil {
		return fmt.Errorf("delete upload: %w", err)
	}
	return nil
}

// FileByID returns a file. ENOTFOUND if none.
func (s *Store) FileByID(ctx context.Context, id string) (parley.File, error) {
	return fileByID(ctx, s.read, id)
}

func fileByID(ctx context.Context, q querier, id string) (parley.File, error) {
	f, err := scanFile(q.QueryRowContext(ctx, storesql.FileSelect+` WHERE f.id = ?`, id))
	if err != nil {
		return parley.File{}, rowErr(err, "select file", "file not found")
	}
	return f, nil
}

// StaleUploads returns up to limit uploads that are not complete and were
// created before createdBefore, oldest first.
func (s *Store) StaleUploads(ctx context.Context, createdBefore time.Time, limit int) ([]parley.Upload, error) {
	return queryAll(ctx, s.read, "select stale uploads", scanUpload, `
		SELECT `+storesql.UploadColumns+` FROM uploads
		WHERE file_id IS NULL AND create_time < ?
		ORDER BY create_time, id LIMIT ?`, nanos(createdBefore), limit)
}

// StoredBytes returns the sizes of the user's files plus the declared sizes
// of the user's uploads that are not complete.
func (s *Store) StoredBytes(ctx context.Context, uploaderID string) (int64, error) {
	var n int64
	err := s.read.QueryRowContext(ctx, `
		SELECT (SELECT coalesce(sum(size), 0) FROM files WHERE uploader_id = ?1)
		     + (SELECT coalesce(sum(size), 0) FROM uploads WHERE uploader_id = ?1 AND file_id IS NULL)`,
		uploaderID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sum stored bytes: %w", err)
	}
	return n, nil
}
