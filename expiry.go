package parley

import (
	"context"
	"fmt"
	"time"
)

// DefaultUploadExpiry is how long an upload may take: one that is not
// complete this long after it was created expires, and ExpireUploads
// reclaims its bytes, unless the server is configured otherwise.
const DefaultUploadExpiry = 24 * time.Hour

// expireBatch is how many stale uploads ExpireUploads lists at a time.
const expireBatch = 100

// ExpiredUploads is what ExpireUploads reclaimed.
type ExpiredUploads struct {
	Uploads int   // uploads forgotten
	Bytes   int64 // bytes of partial content discarded
}

// ExpireUploads reclaims every upload that is not complete and was created
// before createdBefore (the server passes now minus its upload expiry):
// it discards the upload's partial content from blobs, then deletes the
// upload from files (FileStore.StaleUploads lists them, oldest first, 100
// at a time) until none is left. It stops at the first error, returning
// what it reclaimed until then; a later run goes on from there.
//
// The content goes first, so that a crash between the two steps leaves an
// upload without content, which the next run finds again (it is still
// stale) and deletes; in the other order a crash would leave content that
// no upload refers to, and nothing would ever find it. A client resuming
// such an upload meanwhile sees offset 0.
//
// lock, unless nil, is held around each upload's expiry; the server passes
// the lock its chunks of an upload take, so that a chunk being appended at
// that moment is either stored before (and discarded with the rest) or
// finds no upload, and never leaves content behind a deleted upload. Under
// the lock the upload is read again, so one completed or deleted since it
// was listed is left alone. Several processes may expire uploads at once:
// discarding and deleting twice is no error (both may count the upload).
func ExpireUploads(ctx context.Context, files FileStore, blobs BlobStore, createdBefore time.Time, lock func(uploadID string) (unlock func())) (ExpiredUploads, error) {
	var done ExpiredUploads
	for {
		stale, err := files.StaleUploads(ctx, createdBefore, expireBatch)
		if err != nil {
			return done, fmt.Errorf("list stale uploads: %w", err)
		}
		expired := 0
		for _, up := range stale {
			bytes, ok, err := expireUpload(ctx, files, blobs, up.ID, lock)
			if err != nil {
				return done, err
			}
			if ok {
				expired++
				done.Uploads++
				done.Bytes += bytes
			}
		}
		// A short batch was the last; a batch of which nothing could be
		// expired (all completed or deleted meanwhile) would come back
		// the same from a store that failed to delete them.
		if len(stale) < expireBatch || expired == 0 {
			return done, nil
		}
	}
}

// expireUpload discards an upload's content and deletes it, unless it is
// complete or gone, and reports the bytes discarded.
func expireUpload(ctx context.Context, files FileStore, blobs BlobStore, id string, lock func(string) func()) (bytes int64, expired bool, err error) {
	if lock != nil {
		defer lock(id)()
	}
	up, err := files.UploadByID(ctx, id)
	switch {
	case ErrorCodeOf(err) == ENOTFOUND:
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("read stale upload %s: %w", id, err)
	case up.FileID != "":
		return 0, false, nil
	}
	size, err := blobs.Size(id)
	if err != nil {
		return 0, false, fmt.Errorf("size of stale upload %s: %w", id, err)
	}
	if err := blobs.Discard(id); err != nil {
		return 0, false, fmt.Errorf("discard stale upload %s: %w", id, err)
	}
	if err := files.DeleteUpload(ctx, id); err != nil {
		return 0, false, fmt.Errorf("delete stale upload %s: %w", id, err)
	}
	return size, true, nil
}
