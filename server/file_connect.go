package server

import (
	"context"
	"errors"
	"io"
	"strings"

	"connectrpc.com/connect"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
)

// fileHandler serves parley.v1.FileService over Connect, gRPC and gRPC-Web
// on the files core (upload.go).
type fileHandler struct{ s *Server }

var _ parleyv1connect.FileServiceHandler = (*fileHandler)(nil)

func (h *fileHandler) CreateUpload(ctx context.Context, req *connect.Request[parleyv1.CreateUploadRequest]) (*connect.Response[parleyv1.CreateUploadResponse], error) {
	p, err := h.caller(ctx)
	if err != nil {
		return nil, err
	}
	up, err := h.s.createUpload(ctx, p, "metadata.", uploadMetaFromProto(req.Msg.GetMetadata()))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&parleyv1.CreateUploadResponse{Upload: uploadToProto(uploadState{upload: up})}), nil
}

func (h *fileHandler) Upload(ctx context.Context, stream *connect.ClientStream[parleyv1.UploadRequest]) (*connect.Response[parleyv1.UploadResponse], error) {
	p, err := h.caller(ctx)
	if err != nil {
		return nil, err
	}
	status, err := h.s.uploadStream(ctx, p, &uploadStream{stream: stream, bytes: streamBytesFrom(ctx)})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&parleyv1.UploadResponse{Upload: uploadToProto(status)}), nil
}

// uploadStream is an uploadConn over a Connect client stream.
//
// Text is whether the codec is JSON, from the Content-Type (e.g.
// application/grpc+json, application/connect+json).
type uploadStream struct {
	stream *connect.ClientStream[parleyv1.UploadRequest]
	bytes  *streamBytes
}

func (u *uploadStream) Text() bool {
	return strings.Contains(u.stream.RequestHeader().Get("Content-Type"), "json")
}

func (u *uploadStream) Receive() (uploadFrame, error) {
	if !u.stream.Receive() {
		if err := u.stream.Err(); err != nil {
			return uploadFrame{}, err
		}
		return uploadFrame{}, io.EOF
	}
	f := uploadFrame{size: u.bytes.next()}
	switch frame := u.stream.Msg().GetFrame().(type) {
	case *parleyv1.UploadRequest_Start:
		f.start = &uploadStart{uploadID: frame.Start.GetUploadId(), offset: frame.Start.GetOffset()}
		if m := frame.Start.GetMetadata(); m != nil {
			meta := uploadMetaFromProto(m)
			f.start.meta = &meta
		}
	case *parleyv1.UploadRequest_Chunk:
		f.chunk = frame.Chunk
	}
	return f, nil
}

func (h *fileHandler) UploadChunk(ctx context.Context, req *connect.Request[parleyv1.UploadChunkRequest]) (*connect.Response[parleyv1.UploadChunkResponse], error) {
	up, err := h.callerUpload(ctx, req.Msg.GetUploadId())
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
	return connect.NewResponse(&parleyv1.UploadChunkResponse{Upload: uploadToProto(uploadState{upload: up, offset: offset, file: file})}), nil
}

func (h *fileHandler) GetUpload(ctx context.Context, req *connect.Request[parleyv1.GetUploadRequest]) (*connect.Response[parleyv1.GetUploadResponse], error) {
	up, err := h.callerUpload(ctx, req.Msg.GetUploadId())
	if err != nil {
		return nil, err
	}
	status, err := h.s.uploadStatus(ctx, up.ID)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&parleyv1.GetUploadResponse{Upload: uploadToProto(status)}), nil
}

func (h *fileHandler) Download(ctx context.Context, req *connect.Request[parleyv1.DownloadRequest], stream *connect.ServerStream[parleyv1.DownloadResponse]) error {
	p, err := h.caller(ctx)
	if err != nil {
		return err
	}
	offset := req.Msg.GetOffset()
	file, content, err := h.s.openDownload(ctx, p, req.Msg.GetFileId(), offset)
	if err != nil {
		return err
	}
	defer func() { _ = content.Close() }() // read only
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
	if err := h.s.filesEnabled(); err != nil {
		return nil, err
	}
	return principalFrom(ctx)
}

// callerUpload is caller, then the caller's upload id (see ownUpload).
func (h *fileHandler) callerUpload(ctx context.Context, id string) (parley.Upload, error) {
	p, err := h.caller(ctx)
	if err != nil {
		return parley.Upload{}, err
	}
	return h.s.ownUpload(ctx, p, id)
}

func uploadMetaFromProto(m *parleyv1.UploadMetadata) parley.UploadMeta {
	return parley.UploadMeta{
		RoomID: m.GetRoomId(), Name: m.GetName(), ContentType: m.GetContentType(), Size: m.GetSize(), SHA256: m.GetSha256(),
	}
}
