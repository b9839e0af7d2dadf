package client

import (
	"context"
	"errors"
	"fmt"
	"io"

	"connectrpc.com/connect"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
)

// UploadStatus is how far an upload got: the next byte the server expects
// is at Offset; File is set once every byte arrived and verified.
type UploadStatus struct {
	ID     string
	Meta   parley.UploadMeta
	Offset int64
	File   *parley.File
}

func uploadStatusFromProto(u *parleyv1.UploadStatus) UploadStatus {
	m := u.GetMetadata()
	st := UploadStatus{
		ID:     u.GetUploadId(),
		Meta:   parley.UploadMeta{RoomID: m.GetRoomId(), Name: m.GetName(), ContentType: m.GetContentType(), Size: m.GetSize(), SHA256: m.GetSha256()},
		Offset: u.GetOffset(),
	}
	if u.GetFile() != nil {
		f := fileFromProto(u.GetFile())
		st.File = &f
	}
	return st
}

// TransferOption configures one Upload or Download.
type TransferOption interface {
	applyTransfer(*transferConfig)
}

type transferConfig struct {
	progress  func(done, total int64)
	chunkSize int
}

type transferOptionFunc func(*transferConfig)

func (f transferOptionFunc) applyTransfer(c *transferConfig) { f(c) }

// WithProgress calls fn with the bytes transferred so far (counting those
// sent or received before a resume) and the total, after every chunk. By
// default, nothing is called.
func WithProgress(fn func(done, total int64)) TransferOption {
	return transferOptionFunc(func(c *transferConfig) { c.progress = fn })
}

// WithChunkSize sets the bytes per upload frame, 1 to parley.MaxChunkBytes.
// By default, 256 KiB.
func WithChunkSize(n int) TransferOption {
	return transferOptionFunc(func(c *transferConfig) {
		if n > 0 && n <= parley.MaxChunkBytes {
			c.chunkSize = n
		}
	})
}

func newTransferConfig(opts []TransferOption) transferConfig {
	cfg := transferConfig{progress: func(int64, int64) {}, chunkSize: 256 << 10}
	for _, o := range opts {
		o.applyTransfer(&cfg)
	}
	return cfg
}

// CreateUpload announces a file and returns its upload at offset 0.
// Errors: EINVALID, ENOTFOUND, EFORBIDDEN, ETOOLARGE.
func (c *Client) CreateUpload(ctx context.Context, meta parley.UploadMeta) (UploadStatus, error) {
	res, err := unary(ctx, c, c.files.CreateUpload, &parleyv1.CreateUploadRequest{Metadata: &parleyv1.UploadMetadata{
		RoomId: meta.RoomID, Name: meta.Name, ContentType: meta.ContentType, Size: meta.Size, Sha256: meta.SHA256,
	}})
	if err != nil {
		return UploadStatus{}, err
	}
	return uploadStatusFromProto(res.GetUpload()), nil
}

// GetUpload tells how far one of the caller's uploads got. Errors: ENOTFOUND.
func (c *Client) GetUpload(ctx context.Context, uploadID string) (UploadStatus, error) {
	res, err := unary(ctx, c, c.files.GetUpload, &parleyv1.GetUploadRequest{UploadId: uploadID})
	if err != nil {
		return UploadStatus{}, err
	}
	return uploadStatusFromProto(res.GetUpload()), nil
}

// UploadChunk sends one chunk (1 byte to parley.MaxChunkBytes) at offset,
// which must be where the upload stands, and returns the upload as it then
// stands, with File set once complete. It is the unary form browsers use;
// Upload streams and resumes by itself.
// Errors: EPRECONDITION (offset is not where the upload stands: see
// GetUpload), ECORRUPT (the completed content does not match its SHA-256),
// EINVALID (bytes beyond the announced size).
func (c *Client) UploadChunk(ctx context.Context, uploadID string, offset int64, data []byte) (UploadStatus, error) {
	res, err := unary(ctx, c, c.files.UploadChunk, &parleyv1.UploadChunkRequest{UploadId: uploadID, Offset: offset, Data: data})
	if err != nil {
		return UploadStatus{}, err
	}
	return uploadStatusFromProto(res.GetUpload()), nil
}

// Upload sends the content of an upload created with CreateUpload (its
// Meta.Size bytes, read with ReadAt) and returns the verified file. It
// starts where the server says the upload stands, so calling it again for
// an interrupted upload, even from another process, continues rather than
// starting over; within one call, a broken connection or a restarting
// server is retried with backoff from the offset the server reports.
// An offset that moved under it (the chunks of an earlier, broken stream
// still being stored) is asked for again.
// Errors: ECORRUPT (the content does not match the announced SHA-256: the
// server discarded the upload), ENOTFOUND, EINVALID.
func (c *Client) Upload(ctx context.Context, uploadID string, content io.ReaderAt, opts ...TransferOption) (parley.File, error) {
	cfg := newTransferConfig(opts)
	b := c.newBackoff()
	buf := make([]byte, cfg.chunkSize)
	mismatches := 0
	for {
		st, err := c.GetUpload(ctx, uploadID)
		if err == nil {
			if st.File != nil {
				cfg.progress(st.Meta.Size, st.Meta.Size)
				return *st.File, nil
			}
			var f *parley.File
			f, err = c.uploadFrom(ctx, st, content, buf, cfg.progress)
			if err == nil && f != nil {
				return *f, nil
			}
			if err == nil {
				err = parley.Errorf(parley.EUNAVAILABLE, "upload stream ended before the file was complete")
			}
		}
		if ctx.Err() != nil {
			return parley.File{}, ctx.Err()
		}
		// EPRECONDITION: the offset moved after GetUpload answered (a
		// previous stream's chunks were still being stored): ask again.
		switch {
		case parley.ErrorCodeOf(err) == parley.EPRECONDITION && mismatches < 5:
			mismatches++
		case !retryable(err):
			return parley.File{}, err
		default:
			c.cfg.logger.WarnContext(ctx, "upload interrupted; resuming", "upload", uploadID, "err", err)
		}
		if err := b.wait(ctx); err != nil {
			return parley.File{}, err
		}
	}
}

// uploadFrom streams the content from st.Offset to the end on one Upload
// stream and returns the file if the server completed it.
func (c *Client) uploadFrom(ctx context.Context, st UploadStatus, content io.ReaderAt, buf []byte, progress func(int64, int64)) (*parley.File, error) {
	stream := c.files.Upload(ctx)
	size := st.Meta.Size
	err := stream.Send(&parleyv1.UploadRequest{Frame: &parleyv1.UploadRequest_Start{Start: &parleyv1.UploadStart{
		Target: &parleyv1.UploadStart_UploadId{UploadId: st.ID}, Offset: st.Offset,
	}}})
	progress(st.Offset, size)
	for off := st.Offset; err == nil && off < size; {
		n, rerr := content.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		if n == 0 {
			if rerr == nil || errors.Is(rerr, io.EOF) {
				rerr = fmt.Errorf("content ends at %d bytes, %d announced", off, size)
			}
			_, _ = stream.CloseAndReceive()
			return nil, fmt.Errorf("read content: %w", rerr)
		}
		err = stream.Send(&parleyv1.UploadRequest{Frame: &parleyv1.UploadRequest_Chunk{Chunk: buf[:n]}})
		off += int64(n)
		if err == nil {
			progress(off, size)
		}
	}
	// A failed Send reports io.EOF; the reason comes with the response.
	res, rerr := stream.CloseAndReceive()
	if rerr != nil {
		return nil, domainError(ctx, rerr)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, domainError(ctx, err)
	}
	if f := res.Msg.GetUpload().GetFile(); f != nil {
		file := fileFromProto(f)
		return &file, nil
	}
	return nil, nil //nolint:nilnil // documented: no file yet, and no error, while the upload is incomplete
}

// Download writes a file's content from offset on to w and returns the
// file. A broken connection or a restarting server is retried with backoff
// from the last byte written. Errors: ENOTFOUND, EFORBIDDEN, EOUTOFRANGE.
func (c *Client) Download(ctx context.Context, fileID string, offset int64, w io.Writer, opts ...TransferOption) (parley.File, error) {
	cfg := newTransferConfig(opts)
	b := c.newBackoff()
	var file parley.File
	for {
		stream, err := c.files.Download(ctx, connect.NewRequest(&parleyv1.DownloadRequest{FileId: fileID, Offset: offset}))
		if err == nil {
			for stream.Receive() {
				b.reset()
				msg := stream.Msg()
				if msg.GetFile() != nil {
					file = fileFromProto(msg.GetFile())
				}
				if msg.GetOffset() != offset {
					_ = stream.Close()
					return file, parley.Errorf(parley.EINTERNAL, "download: chunk at offset %d, expected %d", msg.GetOffset(), offset)
				}
				if _, err := w.Write(msg.GetData()); err != nil {
					_ = stream.Close()
					return file, fmt.Errorf("write download: %w", err)
				}
				offset += int64(len(msg.GetData()))
				cfg.progress(offset, file.Size)
			}
			err = stream.Err()
			_ = stream.Close()
			if err == nil {
				if offset == file.Size {
					return file, nil
				}
				err = parley.Errorf(parley.EUNAVAILABLE, "download ended at %d of %d bytes", offset, file.Size)
			}
		}
		err = domainError(ctx, err)
		if ctx.Err() != nil {
			return file, ctx.Err()
		}
		if !retryable(err) {
			return file, err
		}
		c.cfg.logger.WarnContext(ctx, "download interrupted; resuming", "file", fileID, "offset", offset, "err", err)
		if err := b.wait(ctx); err != nil {
			return file, err
		}
	}
}
