package server

import (
	"context"
	"io"

	"github.com/parley-chat/parley"
)

// The files core: resumable uploads, their completion and downloads, in
// domain types. file_connect.go adapts it to parley.v1.FileService.

var errNoFiles = parley.Errorf(parley.ENOTIMPLEMENTED, "file storage is not configured on this server")

// uploadState is how far an upload got: the bytes received so far, and the
// file once it is complete (then offset is its size).
type uploadState struct {
	upload parley.Upload
	offset int64
	file   *parley.File
}

// filesEnabled reports errNoFiles when the server has no file storage.
func (s *Server) filesEnabled() error {
	if s.cfg.files == nil || s.cfg.blobs == nil {
		return errNoFiles
	}
	return nil
}

// createUpload starts an upload into a room the caller is a member of;
// prefix qualifies field names in violations.
func (s *Server) createUpload(ctx context.Context, p *principal, prefix string, meta parley.UploadMeta) (parley.Upload, error) {
	v := append(validateID(prefix+"room_id", meta.RoomID), parley.ValidateUploadMeta(prefix, meta)...)
	if err := parley.Invalid(v); err != nil {
		return parley.Upload{}, err
	}
	if meta.Size > s.cfg.maxFileBytes {
		return parley.Upload{}, parley.Errorf(parley.ETOOLARGE, "file is %d bytes; the limit is %d", meta.Size, s.cfg.maxFileBytes)
	}
	if _, err := s.memberRoom(ctx, meta.RoomID, p.user.ID); err != nil {
		return parley.Upload{}, err
	}
	return s.cfg.files.CreateUpload(ctx, p.user.ID, meta)
}

// ownUpload returns one of the caller's uploads; others' look not found.
func (s *Server) ownUpload(ctx context.Context, p *principal, id string) (parley.Upload, error) {
	if err := parley.Invalid(validateID("upload_id", id)); err != nil {
		return parley.Upload{}, err
	}
	up, err := s.cfg.files.UploadByID(ctx, id)
	if err != nil {
		return parley.Upload{}, err
	}
	if up.UploaderID != p.user.ID {
		return parley.Upload{}, parley.Errorf(parley.ENOTFOUND, "upload not found")
	}
	return up, nil
}

// appendChunk writes a chunk at offset and, when it was the last one,
// verifies and stores the file. Chunks of one upload are serialised.
func (s *Server) appendChunk(ctx context.Context, up parley.Upload, offset int64, chunk []byte) (int64, *parley.File, error) {
	if len(chunk) > parley.MaxChunkBytes {
		return 0, nil, parley.Invalid([]parley.FieldViolation{{Field: "chunk", Description: "must be at most 1 MiB"}})
	}
	unlock := s.lockUpload(up.ID)
	defer unlock()
	up, err := s.cfg.files.UploadByID(ctx, up.ID) // as it stands now, under the lock
	if err != nil {
		return 0, nil, err
	}
	if up.FileID != "" {
		return 0, nil, parley.Errorf(parley.EPRECONDITION, "upload is already complete")
	}
	if offset < 0 || offset+int64(len(chunk)) > up.Meta.Size {
		return 0, nil, parley.Invalid([]parley.FieldViolation{{Field: "offset", Description: "chunk would end beyond the announced size"}})
	}
	size, err := s.cfg.blobs.Append(up.ID, offset, chunk)
	if err != nil {
		return 0, nil, err
	}
	if size < up.Meta.Size {
		return size, nil, nil
	}
	file, err := s.completeStored(ctx, up)
	if err != nil {
		return 0, nil, err
	}
	return size, &file, nil
}

// completeStored verifies and stores the content of an upload whose bytes
// all arrived, and completes the upload. The caller holds its lock.
func (s *Server) completeStored(ctx context.Context, up parley.Upload) (parley.File, error) {
	if err := s.cfg.blobs.Commit(up.ID, up.Meta.SHA256); err != nil {
		if parley.ErrorCodeOf(err) == parley.ECORRUPT {
			if derr := s.cfg.files.DeleteUpload(context.WithoutCancel(ctx), up.ID); derr != nil {
				s.logger().ErrorContext(ctx, "delete corrupt upload", "upload", up.ID, "err", derr)
			}
		}
		return parley.File{}, err
	}
	return s.cfg.files.CompleteUpload(ctx, up.ID)
}

// uploadStatus reads how far an upload got. An upload whose bytes all
// arrived but which is not complete (the process that stored the last
// chunk stopped, or lost the database, before verifying it) is completed
// here: asking where to continue, as every client does on resuming,
// finishes it, on any replica.
func (s *Server) uploadStatus(ctx context.Context, id string) (uploadState, error) {
	st, err := s.readUploadStatus(ctx, id)
	if err != nil || st.file != nil || st.offset < st.upload.Meta.Size {
		return st, err
	}
	unlock := s.lockUpload(id)
	defer unlock()
	if st, err = s.readUploadStatus(ctx, id); err != nil || st.file != nil || st.offset < st.upload.Meta.Size {
		return st, err // as it stands now, under the lock
	}
	file, err := s.completeStored(ctx, st.upload)
	switch {
	case parley.ErrorCodeOf(err) == parley.ENOTFOUND:
		// Another replica verified the content first: it is completing.
		return s.readUploadStatus(ctx, id)
	case err != nil:
		return uploadState{}, err
	}
	return uploadState{upload: st.upload, offset: st.offset, file: &file}, nil
}

// readUploadStatus reads how far an upload got, as the stores tell.
func (s *Server) readUploadStatus(ctx context.Context, id string) (uploadState, error) {
	up, err := s.cfg.files.UploadByID(ctx, id)
	if err != nil {
		return uploadState{}, err
	}
	if up.FileID != "" {
		f, err := s.cfg.files.FileByID(ctx, up.FileID)
		if err != nil {
			return uploadState{}, err
		}
		return uploadState{upload: up, offset: up.Meta.Size, file: &f}, nil
	}
	offset, err := s.cfg.blobs.Size(up.ID)
	if err != nil {
		return uploadState{}, err
	}
	return uploadState{upload: up, offset: offset}, nil
}

// openDownload returns a file of a room the caller is a member of and its
// contents positioned at offset. The caller must close the contents.
func (s *Server) openDownload(ctx context.Context, p *principal, fileID string, offset int64) (parley.File, io.ReadCloser, error) {
	file, err := s.memberFile(ctx, p, fileID, "file_id")
	if err != nil {
		return parley.File{}, nil, err
	}
	if offset < 0 || offset > file.Size {
		return parley.File{}, nil, parley.Errorf(parley.EOUTOFRANGE, "offset %d is outside the file (size %d)", offset, file.Size)
	}
	content, err := s.cfg.blobs.Open(file.SHA256)
	if err != nil {
		return parley.File{}, nil, err
	}
	if _, err := content.Seek(offset, io.SeekStart); err != nil {
		_ = content.Close()
		return parley.File{}, nil, err
	}
	return file, content, nil
}
