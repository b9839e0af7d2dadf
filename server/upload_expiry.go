package server

import (
	"context"
	"time"

	"github.com/parley-chat/parley"
)

// WithUploadExpiry sets how long an upload may take: one that is not
// complete this long after it was created expires, and SweepUploads
// deletes it with its bytes. Until then it counts against
// Limits.OpenUploadsPerUser and Limits.StoredBytesPerUser. By default,
// parley.DefaultUploadExpiry (24 hours).
func WithUploadExpiry(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.uploadExpiry = d
		}
	})
}

// uploadSweepInterval is how often SweepUploads looks for expired uploads,
// unless the expiry is shorter: then it looks as often as the expiry.
const uploadSweepInterval = 10 * time.Minute

func (c *config) uploadSweepEvery() time.Duration { return min(uploadSweepInterval, c.uploadExpiry) }

// SweepUploads expires abandoned uploads (parley.ExpireUploads: their
// partial contents, then the uploads) at once and then every 10 minutes,
// or every upload expiry when that is shorter (WithUploadExpiry), until
// ctx ends or the server drains. It logs what each sweep reclaimed, and
// errors (the next sweep tries again). It holds each upload's chunk lock
// while it expires it, so that a chunk being appended never leaves bytes
// behind. On a server without file storage it returns at once. Several
// replicas may sweep the same storage. SweepUploads blocks: run it in its
// own goroutine, and let it return before closing the stores.
func (s *Server) SweepUploads(ctx context.Context) {
	if s.filesEnabled() != nil {
		return
	}
	tick := time.NewTicker(s.cfg.uploadSweepEvery())
	defer tick.Stop()
	for {
		s.sweepUploads(ctx)
		select {
		case <-ctx.Done():
			return
		case <-s.drain.Done():
			return
		case <-tick.C:
		}
	}
}

// sweepUploads expires the uploads created more than the upload expiry ago.
func (s *Server) sweepUploads(ctx context.Context) {
	createdBefore := s.now().Add(-s.cfg.uploadExpiry)
	// s.cfg.files, so that the quotas stop counting what is deleted.
	got, err := parley.ExpireUploads(ctx, s.cfg.files, s.cfg.blobs, createdBefore, s.lockUpload)
	if got.Uploads > 0 {
		s.logger().InfoContext(ctx, "expired abandoned uploads", "uploads", got.Uploads, "bytes", got.Bytes, "created_before", createdBefore)
	}
	if err != nil && ctx.Err() == nil {
		s.logger().ErrorContext(ctx, "expire abandoned uploads", "err", err)
	}
}

// lockUpload serialises work on one upload's content: its chunks, and its
// expiry.
func (s *Server) lockUpload(id string) (unlock func()) { return s.locks.Lock("upload:" + id) }
