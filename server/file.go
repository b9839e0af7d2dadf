package server

import (
	"context"
	"errors"
	"io"

	"connectrpc.com/connect"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
)

// fileHandler serves parley.v1.FileService.
type fileHandler struct{ s *Server }

var _ parleyv1connect.FileServiceHandler = (*fileHandler)(nil)

var errNoUploadStart = parley.Invalid([]parley.FieldViolation{{Field: "start", Description: "the first frame must be an UploadStart"}})

var errNoFiles = parley.Errorf(parley.ENOTIMPLEMENTED, "file storage is not configured on this server")

func (h *fileHandler) CreateUpload(ctx context.Context, req *connect.Request[parleyv1.CreateUploadRequest]) (*connect.Response[parleyv1.CreateUploadResponse], error) {
	p, err := h.caller(ctx)
	if err != nil {
		return nil, err
	}
	up, err := h.s.createUpload(ctx, p, "metadata.", req.Msg.GetMetadata())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&parleyv1.CreateUploadResponse{Upload: uploadToProto(up, 0, nil)}), nil
}

func (h *fileHandler) Upload(ctx context.Context, stream *connect.ClientStream[parleyv1.UploadRequest]) (*connect.Response[parleyv1.UploadResponse], error) {
	p, err := h.caller(ctx)
	if err != nil {
		return nil, err
	}
	if !stream.Receive() {
		if err := stream.Err(); err != nil {
			return nil, err
		}
		return nil, errNoUploadStart
	}
	start := stream.Msg().GetStart()
	if start == nil {
		return nil, errNoUploadStart
	}
	var up parley.Upload
	if meta := start.GetMetadata(); meta != nil {
		up, err = h.s.createUpload(ctx, p, "start.metadata.", meta)
	} else {
		up, err = h.s.ownUpload(ctx, p, start.GetUploadId())
	}
	if err != nil {
		return nil, err
	}
	offset := start.GetOffset()
	for stream.Receive() {
		if stream.Msg().GetStart() != nil {
			return nil, parley.Invalid([]parley.FieldViolation{{Field: "start", Description: "only the first frame may be an UploadStart"}})
		}
		if offset, _, err = h.s.appendChunk(ctx, up, offset, stream.Msg().GetChunk()); err != nil {
			return nil, err
		}
	}
	if err := stream.Err(); err != nil {
		return nil, err // what arrived is kept: GetUpload tells where to resume
	}
	status, err := h.s.uploadStatus(ctx, up.ID)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&parleyv1.UploadResponse{Upload: status}), nil
}

func (h *fileHandler) UploadChunk(ctx context.Context, req *connect.Request[parleyv1.UploadChunkRequest]) (*connect.Response[parleyv1.UploadChunkResponse], error) {
	p, err := h.caller(ctx)
	if err != nil {
		return nil, err
	}
	up, err := h.s.ownUpload(ctx, p, req.Msg.GetUploadId())
	if err != nil {
		return nil, err
	}
	if len(req.Msg.GetData()) == 0 {
		return nil, parley.Invalid([]parley.FieldViolation{{Field: "data", Description: "must not be empty"}})
	}
	offset, file, err := h.s.appendChunk(ctx, up, req.Msg.GetOffset(), req.Msg.GetData())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&parleyv1.UploadChunkResponse{Upload: uploadToProto(up, offset, file)}), nil
}

func (h *fileHandler) GetUpload(ctx context.Context, req *connect.Request[parleyv1.GetUploadRequest]) (*connect.Response[parleyv1.GetUploadResponse], error) {
	p, err := h.caller(ctx)
	if err != nil {
		return nil, err
	}
	up, err := h.s.ownUpload(ctx, p, req.Msg.GetUploadId())
	if err != nil {
		return nil, err
	}
	status, err := h.s.uploadStatus(ctx, up.ID)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&parleyv1.GetUploadResponse{Upload: status}), nil
}

// uploadStatus reads how far an upload got: its file once complete, else
// the bytes received so far.
func (s *Server) uploadStatus(ctx context.Context, id string) (*parleyv1.UploadStatus, error) {
	up, err := s.cfg.files.UploadByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if up.FileID != "" {
		f, err := s.cfg.files.FileByID(ctx, up.FileID)
		if err != nil {
			return nil, err
		}
		return uploadToProto(up, up.Meta.Size, &f), nil
	}
	offset, err := s.cfg.blobs.Size(up.ID)
	if err != nil {
		return nil, err
	}
	return uploadToProto(up, offset, nil), nil
}

func (h *fileHandler) Download(ctx context.Context, req *connect.Request[parleyv1.DownloadRequest], stream *connect.ServerStream[parleyv1.DownloadResponse]) error {
	p, err := h.caller(ctx)
	if err != nil {
		return err
	}
	file, err := h.s.memberFile(ctx, p, req.Msg.GetFileId(), "file_id")
	if err != nil {
		return err
	}
	offset := req.Msg.GetOffset()
	if offset < 0 || offset > file.Size {
		return parley.Errorf(parley.EOUTOFRANGE, "offset %d is outside the file (size %d)", offset, file.Size)
	}
	content, err := h.s.cfg.blobs.Open(file.SHA256)
	if err != nil {
		return err
	}
	defer content.Close()
	if _, err := content.Seek(offset, io.SeekStart); err != nil {
		return err
	}
	buf := make([]byte, parley.DownloadChunkBytes)
	first := &parleyv1.DownloadResponse{File: fileToProto(file), Offset: offset}
	for {
		if err := h.s.draining(); err != nil {
			return err
		}
		n, err := io.ReadFull(content, buf)
		if n > 0 || first != nil {
			frame := first
			if frame == nil {
				frame = &parleyv1.DownloadResponse{Offset: offset}
			}
			first = nil
			frame.Data = buf[:n]
			if err := stream.Send(frame); err != nil {
				return err
			}
			offset += int64(n)
		}
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil
		case err != nil:
			return err
		}
	}
}

// caller returns the authenticated user, or errNoFiles when the server has
// no file storage.
func (h *fileHandler) caller(ctx context.Context) (*principal, error) {
	if h.s.cfg.files == nil || h.s.cfg.blobs == nil {
		return nil, errNoFiles
	}
	return principalFrom(ctx)
}

func (s *Server) createUpload(ctx context.Context, p *principal, prefix string, m *parleyv1.UploadMetadata) (parley.Upload, error) {
	meta := parley.UploadMeta{
		RoomID: m.GetRoomId(), Name: m.GetName(), ContentType: m.GetContentType(), Size: m.GetSize(), SHA256: m.GetSha256(),
	}
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
	unlock := s.locks.Lock("upload:" + up.ID)
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
	if err := s.cfg.blobs.Commit(up.ID, up.Meta.SHA256); err != nil {
		if parley.ErrorCodeOf(err) == parley.ECORRUPT {
			if derr := s.cfg.files.DeleteUpload(context.WithoutCancel(ctx), up.ID); derr != nil {
				s.logger().ErrorContext(ctx, "delete corrupt upload", "upload", up.ID, "err", derr)
			}
		}
		return 0, nil, err
	}
	file, err := s.cfg.files.CompleteUpload(ctx, up.ID)
	if err != nil {
		return 0, nil, err
	}
	return size, &file, nil
}

// memberFile returns a file of a room the caller is a member of.
func (s *Server) memberFile(ctx context.Context, p *principal, id, field string) (parley.File, error) {
	if err := parley.Invalid(validateID(field, id)); err != nil {
		return parley.File{}, err
	}
	file, err := s.cfg.files.FileByID(ctx, id)
	if err != nil {
		return parley.File{}, err
	}
	if _, err := s.memberRoom(ctx, file.RoomID, p.user.ID); err != nil {
		if parley.ErrorCodeOf(err) == parley.EFORBIDDEN {
			return parley.File{}, parley.Errorf(parley.EFORBIDDEN, "not a member of the file's room")
		}
		return parley.File{}, err
	}
	return file, nil
}
