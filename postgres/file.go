package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/storesql"
)

var _ parley.FileStore = (*Store)(nil)

func scanUpload(row pgx.Row) (parley.Upload, error) {
	var u parley.Upload
	err := row.Scan(&u.ID, &u.UploaderID, &u.Meta.RoomID, &u.Meta.Name, &u.Meta.ContentType,
		&u.Meta.Size, &u.Meta.SHA256, &u.CreateTime, &u.FileID)
	u.CreateTime = u.CreateTime.UTC()
	return u, err
}

func scanFile(row pgx.Row) (parley.File, error) {
	var f parley.File
	err := row.Scan(&f.ID, &f.RoomID, &f.Name, &f.ContentType, &f.Size, &f.SHA256, &f.CreateTime,
		&f.Uploader.ID, &f.Uploader.Username, &f.Uploader.CreateTime)
	f.CreateTime, f.Uploader.CreateTime = f.CreateTime.UTC(), f.Uploader.CreateTime.UTC()
	return f, err
}

// CreateUpload records a new upload, stamped with the Store's clock.
// ENOTFOUND if the room or the uploader does not exist.
func (s *Store) CreateUpload(ctx context.Context, uploaderID string, meta parley.UploadMeta) (parley.Upload, error) {
	u := parley.Upload{ID: newID("up_"), UploaderID: uploaderID, Meta: meta, CreateTime: s.stamp()}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO uploads (id, uploader_id, room_id, name, content_type, size, sha256, create_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		u.ID, uploaderID, meta.RoomID, meta.Name, meta.ContentType, meta.Size, meta.SHA256, u.CreateTime)
	switch {
	case isForeignKey(err):
		return parley.Upload{}, parley.Errorf(parley.ENOTFOUND, "room or user not found")
	case err != nil:
		return parley.Upload{}, wrap("insert upload", err)
	}
	return u, nil
}

// UploadByID returns an upload. ENOTFOUND if none.
func (s *Store) UploadByID(ctx context.Context, id string) (parley.Upload, error) {
	return uploadByID(ctx, s.pool, id, "")
}

// uploadByID reads an upload; lock is appended to the query (FOR UPDATE).
func uploadByID(ctx context.Context, q querier, id, lock string) (parley.Upload, error) {
	u, err := scanUpload(q.QueryRow(ctx, `SELECT `+storesql.UploadColumns+` FROM uploads WHERE id = $1`+lock, id))
	if err != nil {
		return parley.Upload{}, rowErr(err, "select upload", "upload not found")
	}
	return u, nil
}

// CompleteUpload records the upload's file and links the two in one
// transaction, which row-locks the upload: of concurrent completions, on
// any replica, one makes the file and the others return it.
func (s *Store) CompleteUpload(ctx context.Context, uploadID string) (parley.File, error) {
	var f parley.File
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		u, err := uploadByID(ctx, tx, uploadID, " FOR UPDATE")
		if err != nil {
			return err
		}
		if u.FileID != "" {
			f, err = fileByID(ctx, tx, u.FileID)
			return err
		}
		id := newID("f_")
		if _, err := tx.Exec(ctx, `
			INSERT INTO files (id, room_id, name, content_type, size, sha256, uploader_id, create_time)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			id, u.Meta.RoomID, u.Meta.Name, u.Meta.ContentType, u.Meta.Size, u.Meta.SHA256, u.UploaderID, s.stamp()); err != nil {
			return wrap("insert file", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE uploads SET file_id = $1 WHERE id = $2`, id, uploadID); err != nil {
			return wrap("link upload", err)
		}
		f, err = fileByID(ctx, tx, id)
		return err
	})
	if err != nil {
		return parley.File{}, txErr("complete upload", err)
	}
	return f, nil
}

// DeleteUpload forgets an upload that is not complete; a completed or
// missing one is left alone.
func (s *Store) DeleteUpload(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM uploads WHERE id = $1 AND file_id IS NULL`, id); err != nil {
		return wrap("delete upload", err)
	}
	return nil
}

// FileByID returns a file. ENOTFOUND if none.
func (s *Store) FileByID(ctx context.Context, id string) (parley.File, error) {
	return fileByID(ctx, s.pool, id)
}

func fileByID(ctx context.Context, q querier, id string) (parley.File, error) {
	f, err := scanFile(q.QueryRow(ctx, storesql.FileSelect+` WHERE f.id = $1`, id))
	if err != nil {
		return parley.File{}, rowErr(err, "select file", "file not found")
	}
	return f, nil
}

// StaleUploads returns up to limit uploads that are not complete and were
// created before createdBefore, oldest first (ties by id), for the caller
// to discard. A limit of 0 or less returns none.
func (s *Store) StaleUploads(ctx context.Context, createdBefore time.Time, limit int) ([]parley.Upload, error) {
	if limit <= 0 {
		return nil, nil
	}
	return queryAll(ctx, s.pool, "select stale uploads", scanUpload, `
		SELECT `+storesql.UploadColumns+` FROM uploads
		WHERE file_id IS NULL AND create_time < $1
		ORDER BY create_time, id LIMIT $2`, createdBefore, limit)
}

// StoredBytes returns the bytes a user has stored or announced: the sizes
// of their files plus the declared sizes (Meta.Size) of their uploads that
// are not complete. 0 for a user with neither, or no such user.
func (s *Store) StoredBytes(ctx context.Context, uploaderID string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `
		SELECT (SELECT coalesce(sum(size), 0) FROM files WHERE uploader_id = $1)
		     + (SELECT coalesce(sum(size), 0) FROM uploads WHERE uploader_id = $1 AND file_id IS NULL)`,
		uploaderID).Scan(&n)
	if err != nil {
		return 0, wrap("sum stored bytes", err)
	}
	return n, nil
}
