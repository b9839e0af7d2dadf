package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parley-chat/parley"
)

var _ parley.BlobStore = (*Blobs)(nil)

// Blobs is a parley.BlobStore in the Store's database, so every replica
// reaches every upload's partial content and every file's content. A
// content is a run of chunk rows, one per Append (at most
// parley.MaxChunkBytes each, as the server sends them); nothing holds a
// whole content in memory: Commit hashes it row by row, and Open reads the
// chunk that holds the position asked for, when it is asked for.
//
// Append commits before it returns, so an acknowledged chunk survives the
// replica that took it. Appends to one upload are serialised by a row lock
// on its content, whichever replicas they come from.
//
// The BlobStore interface takes no context: calls run with
// context.Background and end when the database answers or the Store's
// connection settings give up.
type Blobs struct {
	pool *pgxpool.Pool
}

// NewBlobs returns the Blobs in the Store's database; they share its pool.
func NewBlobs(s *Store) *Blobs { return &Blobs{pool: s.pool} }

// Append implements parley.BlobStore: the chunk and the content's new size
// in one transaction, under a lock on the content's row.
func (b *Blobs) Append(uploadID string, offset int64, data []byte) (int64, error) {
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		var id, size int64
		err := tx.QueryRow(ctx, `SELECT id, size FROM blob_contents WHERE upload_id = $1 FOR UPDATE`, uploadID).Scan(&id, &size)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			// The first chunk: a concurrent first chunk of the same upload
			// makes this INSERT wait, then fail as a duplicate.
			if offset != 0 {
				return wrongOffset(0, offset)
			}
			err = tx.QueryRow(ctx, `INSERT INTO blob_contents (upload_id) VALUES ($1) RETURNING id`, uploadID).Scan(&id)
			if isUnique(err) {
				return parley.Errorf(parley.EPRECONDITION, "upload continues beyond offset 0, not at it")
			}
			if err != nil {
				return wrap("insert upload content", err)
			}
		case err != nil:
			return wrap("lock upload content", err)
		case size != offset:
			return wrongOffset(size, offset)
		}
		if len(data) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO blob_chunks (content_id, pos, data) VALUES ($1, $2, $3)`, id, offset, data); err != nil {
			return wrap("insert chunk", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE blob_contents SET size = $1 WHERE id = $2`, offset+int64(len(data)), id); err != nil {
			return wrap("update upload content size", err)
		}
		return nil
	})
	if err != nil {
		return 0, txErr("append chunk", err)
	}
	return offset + int64(len(data)), nil
}

func wrongOffset(size, offset int64) error {
	return parley.Errorf(parley.EPRECONDITION, "upload continues at offset %d, not %d", size, offset)
}

// Size implements parley.BlobStore.
func (b *Blobs) Size(uploadID string) (int64, error) {
	var size int64
	err := b.pool.QueryRow(context.Background(), `SELECT size FROM blob_contents WHERE upload_id = $1`, uploadID).Scan(&size)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, wrap("select upload content size", err)
	}
	return size, nil
}

// Commit implements parley.BlobStore: it hashes the partial content chunk
// by chunk and, if the hash matches, relabels it as the verified content
// of that hash, or deletes it when that content is stored already. The
// content's row stays locked meanwhile, so no Append slips in.
func (b *Blobs) Commit(uploadID, sum string) error {
	ctx := context.Background()
	for attempt := 0; ; attempt++ {
		err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error { return commitContent(ctx, tx, uploadID, sum) })
		// Another upload of the same content committed in the meantime:
		// the second attempt finds it stored.
		if isUnique(err) && attempt == 0 {
			continue
		}
		if parley.ErrorCodeOf(err) == parley.ECORRUPT {
			if derr := b.Discard(uploadID); derr != nil {
				return derr
			}
			return err
		}
		if err != nil {
			return txErr("commit upload content", err)
		}
		return nil
	}
}

// commitContent is one attempt of Commit, in tx.
func commitContent(ctx context.Context, tx pgx.Tx, uploadID, sum string) error {
	var id int64
	err := tx.QueryRow(ctx, `SELECT id FROM blob_contents WHERE upload_id = $1 FOR UPDATE`, uploadID).Scan(&id)
	if err != nil {
		return rowErr(err, "lock upload content", "upload has no content")
	}
	got, err := hashContent(ctx, tx, id)
	if err != nil {
		return err
	}
	if got != sum {
		return parley.Errorf(parley.ECORRUPT, "content has SHA-256 %s, announced %s: upload discarded", got, sum)
	}
	var stored bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM blob_contents WHERE sha256 = $1)`, sum).Scan(&stored); err != nil {
		return wrap("look up content", err)
	}
	if stored {
		_, err = tx.Exec(ctx, `DELETE FROM blob_contents WHERE id = $1`, id)
	} else {
		_, err = tx.Exec(ctx, `UPDATE blob_contents SET upload_id = NULL, sha256 = $1 WHERE id = $2`, sum, id)
	}
	if err != nil {
		return wrap("store content", err)
	}
	return nil
}

// hashContent returns the SHA-256 of a content, in lowercase hex, reading
// its chunks in order, one row at a time.
func hashContent(ctx context.Context, tx pgx.Tx, contentID int64) (string, error) {
	rows, err := tx.Query(ctx, `SELECT data FROM blob_chunks WHERE content_id = $1 ORDER BY pos`, contentID)
	if err != nil {
		return "", wrap("read chunks", err)
	}
	defer rows.Close()
	h := sha256.New()
	for rows.Next() {
		var data pgtype.DriverBytes // the driver's buffer: valid until Next
		if err := rows.Scan(&data); err != nil {
			return "", wrap("read chunk", err)
		}
		h.Write(data)
	}
	if err := rows.Err(); err != nil {
		return "", wrap("read chunks", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Discard implements parley.BlobStore.
func (b *Blobs) Discard(uploadID string) error {
	if _, err := b.pool.Exec(context.Background(), `DELETE FROM blob_contents WHERE upload_id = $1`, uploadID); err != nil {
		return wrap("delete upload content", err)
	}
	return nil
}

// Open implements parley.BlobStore. The reader holds no connection between
// reads; it keeps the last chunk it read (at most the largest chunk
// appended), so sequential reads cost one query per chunk.
func (b *Blobs) Open(sum string) (io.ReadSeekCloser, error) {
	r := &blobReader{pool: b.pool}
	err := b.pool.QueryRow(context.Background(), `SELECT id, size FROM blob_contents WHERE sha256 = $1`, sum).Scan(&r.id, &r.size)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, parley.Errorf(parley.ENOTFOUND, "file content not found")
	case err != nil:
		return nil, wrap("open content", err)
	}
	return r, nil
}

// blobReader reads a verified content chunk by chunk.
type blobReader struct {
	pool     *pgxpool.Pool
	id, size int64
	pos      int64
	chunk    []byte // the chunk last read, which starts at chunkPos
	chunkPos int64
	closed   bool
}

func (r *blobReader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, os.ErrClosed
	}
	if r.pos >= r.size {
		return 0, io.EOF
	}
	if r.pos < r.chunkPos || r.pos >= r.chunkPos+int64(len(r.chunk)) {
		if err := r.readChunk(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.chunk[r.pos-r.chunkPos:])
	r.pos += int64(n)
	return n, nil
}

// readChunk reads the chunk that holds r.pos into r.chunk, reusing its
// memory.
func (r *blobReader) readChunk() error {
	buf := pgtype.PreallocBytes(r.chunk[:cap(r.chunk)])
	err := r.pool.QueryRow(context.Background(), `
		SELECT pos, data FROM blob_chunks WHERE content_id = $1 AND pos <= $2
		ORDER BY pos DESC LIMIT 1`, r.id, r.pos).Scan(&r.chunkPos, &buf)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return parley.Errorf(parley.EINTERNAL, "content %d has no chunk at %d", r.id, r.pos)
	case err != nil:
		return wrap("read chunk", err)
	}
	r.chunk = buf
	if r.pos >= r.chunkPos+int64(len(r.chunk)) {
		return parley.Errorf(parley.EINTERNAL, "content %d has a hole at %d", r.id, r.pos)
	}
	return nil
}

func (r *blobReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += r.pos
	case io.SeekEnd:
		offset += r.size
	case io.SeekStart:
	default:
		return 0, errors.New("seek: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("seek: negative position")
	}
	r.pos = offset
	return offset, nil
}

func (r *blobReader) Close() error {
	r.closed, r.chunk = true, nil
	return nil
}
