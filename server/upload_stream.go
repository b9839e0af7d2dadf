package server

import (
	"context"
	"errors"
	"io"

	"github.com/parley-chat/parley"
)

// uploadStreamLimit is what an Upload stream may carry, after
// decompression, for an upload that still misses remaining bytes: those
// bytes, a third more in a text encoding (JSON carries bytes as base64),
// and slack for the start frame and each chunk's framing (an envelope and
// a protobuf tag and length, about 9 bytes per chunk; JSON's field name).
func uploadStreamLimit(remaining int64, text bool) int64 {
	limit := remaining + remaining/16 + 64<<10
	if text {
		limit += (remaining + 2) / 3
	}
	return limit
}

// uploadFrame is one frame of an Upload stream as the core sees it: the
// first carries start, every other one a chunk.
type uploadFrame struct {
	start *uploadStart
	chunk []byte
	size  int64 // what the frame took on the stream after decompression
}

// uploadStart begins an upload (meta) or continues one (uploadID).
type uploadStart struct {
	meta     *parley.UploadMeta
	uploadID string
	offset   int64
}

// uploadConn is an Upload stream as the core sees it. file_connect.go
// implements it over a Connect client stream.
type uploadConn interface {
	// Receive returns the client's next frame: io.EOF once it is done,
	// another error when the stream broke.
	Receive() (uploadFrame, error)
	// Text reports whether the frames are in a text encoding (JSON).
	Text() bool
}

var errNoUploadStart = parley.Invalid([]parley.FieldViolation{{Field: "start", Description: "the first frame must be an UploadStart"}})

// uploadStream runs an Upload stream: an UploadStart creating or naming
// one of the caller's uploads, then chunks, each stored durably before the
// next is read. It returns the upload as it stands when the client is
// done. The stream may carry, after decompression, what uploadStreamLimit
// allows for the bytes the upload still misses; more is ETOOLARGE. Drain ends it
// with EUNAVAILABLE, also while it waits for a frame (endStreamsAtDrain).
// Once the upload is known, an error that ends the stream carries its
// UploadPosition, so the client continues from there.
func (s *Server) uploadStream(ctx context.Context, p *principal, conn uploadConn) (uploadState, error) {
	if err := s.draining(); err != nil {
		return uploadState{}, err
	}
	first, err := conn.Receive()
	switch {
	case errors.Is(err, io.EOF):
		return uploadState{}, errNoUploadStart
	case err != nil:
		return uploadState{}, s.drainingOr(err)
	case first.start == nil:
		return uploadState{}, errNoUploadStart
	}
	var up parley.Upload
	if first.start.meta != nil {
		up, err = s.createUpload(ctx, p, "start.metadata.", *first.start.meta)
	} else {
		up, err = s.ownUpload(ctx, p, first.start.uploadID)
	}
	if err != nil {
		return uploadState{}, err
	}
	offset := first.start.offset
	remaining := max(up.Meta.Size-max(offset, 0), 0)
	limit, used := uploadStreamLimit(remaining, conn.Text()), first.size
	for {
		if err := s.draining(); err != nil {
			return uploadState{}, s.uploadEnded(ctx, up, offset, err)
		}
		frame, err := conn.Receive()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			// What arrived is kept: the position (or GetUpload) tells
			// where to continue.
			return uploadState{}, s.uploadEnded(ctx, up, offset, s.drainingOr(err))
		}
		if used += frame.size; used > limit {
			return uploadState{}, s.uploadEnded(ctx, up, offset, parley.Errorf(parley.ETOOLARGE,
				"upload stream carried %d bytes after decompression; this upload needs at most %d (%d missing plus framing)", used, limit, remaining))
		}
		if frame.start != nil {
			return uploadState{}, s.uploadEnded(ctx, up, offset, parley.Invalid([]parley.FieldViolation{{Field: "start", Description: "only the first frame may be an UploadStart"}}))
		}
		if len(frame.chunk) == 0 {
			continue
		}
		if offset, _, err = s.appendChunk(ctx, up, offset, frame.chunk); err != nil {
			return uploadState{}, s.uploadEnded(ctx, up, offset, err)
		}
	}
	return s.uploadStatus(ctx, up.ID)
}

// drainingOr is errDraining when the server is draining (a read it broke
// off fails for that reason), else err.
func (s *Server) drainingOr(err error) error {
	if derr := s.draining(); derr != nil {
		return derr
	}
	return err
}

// uploadEnded adds to a domain error that ends an Upload stream the
// upload's position: the bytes stored, as GetUpload would tell (the
// offset the stream reached if they cannot be read).
func (s *Server) uploadEnded(ctx context.Context, up parley.Upload, offset int64, err error) error {
	var perr *parley.Error
	if !errors.As(err, &perr) || perr.Code == parley.EINTERNAL {
		return err
	}
	if size, serr := s.cfg.blobs.Size(up.ID); serr == nil {
		offset = size
	} else {
		s.logger().WarnContext(ctx, "upload position", "upload", up.ID, "err", serr)
	}
	e := *perr
	e.Upload = &parley.UploadPosition{UploadID: up.ID, Offset: offset}
	return &e
}
