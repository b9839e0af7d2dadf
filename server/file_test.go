package server_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/server"
)

const uploadChunk = 256 << 10

// storedBlobs counts verified contents on disk.
func storedBlobs(t *testing.T, srv *testserver.Server) int {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(srv.FilesDir, "blobs", "*", "*"))
	return len(matches)
}

// fileUser is a signed-up user with a room of their own for files.
type fileUser struct {
	*testserver.User
	roomID string
}

func newFileUser(t testing.TB, srv *testserver.Server, clientName, username string) fileUser {
	t.Helper()
	u := testserver.SignUp(t, srv.Client(t, clientName), username)
	return fileUser{User: u, roomID: u.CreateRoom(t, "files-"+username, parleyv1.Visibility_VISIBILITY_UNSPECIFIED).GetId()}
}

// TestUploadStreamResumes uploads 20 MiB by client stream on each protocol,
// breaks the stream at a random chunk, asks where to continue and sends the
// rest on a new stream; the file must verify, be stored once, and download
// (also resumed from an offset) byte for byte.
func TestUploadStreamResumes(t *testing.T) {
	t.Parallel()
	const size = 20 << 20
	srv := testserver.Start(t)
	data, sum := testserver.RandomContent(size)
	for i, name := range []string{"grpc/proto/h2c", "connect/proto/h2c", "grpcweb/proto/http1"} {
		u := newFileUser(t, srv, name, fmt.Sprintf("uploader%d", i))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		created, err := u.Files.CreateUpload(ctx, connect.NewRequest(&parleyv1.CreateUploadRequest{Metadata: &parleyv1.UploadMetadata{
			RoomId: u.roomID, Name: "big.bin", ContentType: "application/octet-stream", Size: size, Sha256: sum,
		}}))
		if err != nil {
			t.Fatalf("%s: CreateUpload: %v", name, err)
		}
		id := created.Msg.GetUpload().GetUploadId()

		// First attempt: the connection breaks after a random number of chunks.
		cut := 1 + rand.IntN(size/uploadChunk-2)
		breakCtx, breakStream := context.WithCancel(ctx)
		stream := u.Files.Upload(breakCtx)
		_ = stream.Send(&parleyv1.UploadRequest{Frame: &parleyv1.UploadRequest_Start{Start: &parleyv1.UploadStart{Target: &parleyv1.UploadStart_UploadId{UploadId: id}}}})
		for c := range cut {
			_ = stream.Send(&parleyv1.UploadRequest{Frame: &parleyv1.UploadRequest_Chunk{Chunk: data[c*uploadChunk : (c+1)*uploadChunk]}})
		}
		breakStream()
		_, _ = stream.CloseAndReceive()

		// Where to continue? The server keeps what arrived. It may still be
		// writing chunks of the broken stream, in which case the resumed
		// stream is refused with failed_precondition and we ask again, as a
		// client must. Over HTTP/1.1 that early refusal can reach the client
		// as a broken connection instead (the server closes it rather than
		// read a body it refused, and the client may see the close before
		// the answer), so any failure but the last attempt's is retried; the
		// checks below still demand one whole, verified file.
		var (
			res    *connect.Response[parleyv1.UploadResponse]
			offset int64
		)
		for attempt := 0; ; attempt++ {
			st, err := u.Files.GetUpload(ctx, connect.NewRequest(&parleyv1.GetUploadRequest{UploadId: id}))
			if err != nil {
				t.Fatalf("%s: GetUpload: %v", name, err)
			}
			offset = st.Msg.GetUpload().GetOffset()
			stream = u.Files.Upload(ctx)
			_ = stream.Send(&parleyv1.UploadRequest{Frame: &parleyv1.UploadRequest_Start{Start: &parleyv1.UploadStart{
				Target: &parleyv1.UploadStart_UploadId{UploadId: id}, Offset: offset,
			}}})
			for o := offset; o < size; o += uploadChunk {
				end := min(o+uploadChunk, size)
				if err := stream.Send(&parleyv1.UploadRequest{Frame: &parleyv1.UploadRequest_Chunk{Chunk: data[o:end]}}); err != nil {
					break // the response tells
				}
			}
			res, err = stream.CloseAndReceive()
			if err != nil && attempt < 10 {
				t.Logf("%s: resume attempt %d at offset %d: %v", name, attempt, offset, err)
				time.Sleep(50 * time.Millisecond)
				continue
			}
			if err != nil {
				t.Fatalf("%s: resumed upload: %v", name, err)
			}
			break
		}
		if offset < 0 || offset >= size {
			t.Fatalf("%s: resumed at offset %d after cutting at chunk %d", name, offset, cut)
		}
		file := res.Msg.GetUpload().GetFile()
		if file.GetSha256() != sum || file.GetSize() != size {
			t.Fatalf("%s: stored file %v", name, file)
		}
		t.Logf("%s: cut after %d chunks, resumed at %d", name, cut, offset)

		// Download resumed from an offset reassembles the same bytes.
		got := download(t, ctx, u.Files, file.GetId(), 0, 5)
		got = append(got, download(t, ctx, u.Files, file.GetId(), int64(len(got)), -1)...)
		if !bytes.Equal(got, data) {
			t.Fatalf("%s: downloaded %d bytes differ from the upload", name, len(got))
		}
	}
	if n := storedBlobs(t, srv); n != 1 {
		t.Errorf("%d stored copies of the same content, want 1", n)
	}
}

// download reads a file from offset, stopping after maxFrames frames if
// that is not negative.
func download(t *testing.T, ctx context.Context, files parleyv1connect.FileServiceClient, id string, offset int64, maxFrames int) []byte {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := files.Download(ctx, connect.NewRequest(&parleyv1.DownloadRequest{FileId: id, Offset: offset}))
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for frames := 0; frames != maxFrames && stream.Receive(); frames++ {
		if got := stream.Msg().GetOffset(); got != offset+int64(len(out)) {
			t.Fatalf("frame at offset %d, want %d", got, offset+int64(len(out)))
		}
		out = append(out, stream.Msg().GetData()...)
	}
	if maxFrames < 0 && stream.Err() != nil {
		t.Fatalf("download: %v", stream.Err())
	}
	return out
}

// TestUploadChunkResumes is the browsers' path: unary chunks, a break, the
// offset from GetUpload, the rest.
func TestUploadChunkResumes(t *testing.T) {
	t.Parallel()
	const size = 3<<20 + 12345
	srv := testserver.Start(t)
	u := newFileUser(t, srv, "connect/json/http1", "chunker")
	data, sum := testserver.RandomContent(size)
	ctx := context.Background()
	created, err := u.Files.CreateUpload(ctx, connect.NewRequest(&parleyv1.CreateUploadRequest{Metadata: &parleyv1.UploadMetadata{
		RoomId: u.roomID, Name: "photo.png", ContentType: "image/png", Size: size, Sha256: sum,
	}}))
	if err != nil {
		t.Fatal(err)
	}
	id := created.Msg.GetUpload().GetUploadId()
	chunk := func(offset int64) (*parleyv1.UploadStatus, error) {
		end := min(offset+uploadChunk, size)
		res, err := u.Files.UploadChunk(ctx, connect.NewRequest(&parleyv1.UploadChunkRequest{UploadId: id, Offset: offset, Data: data[offset:end]}))
		if err != nil {
			return nil, err
		}
		return res.Msg.GetUpload(), nil
	}
	for o := int64(0); o < 5*uploadChunk; o += uploadChunk {
		if _, err := chunk(o); err != nil {
			t.Fatal(err)
		}
	}
	// A chunk at the wrong offset is refused and changes nothing.
	if _, err := chunk(7 * uploadChunk); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("chunk at the wrong offset: %v, want failed_precondition", err)
	}
	st, err := u.Files.GetUpload(ctx, connect.NewRequest(&parleyv1.GetUploadRequest{UploadId: id}))
	if err != nil || st.Msg.GetUpload().GetOffset() != 5*uploadChunk {
		t.Fatalf("GetUpload = %v, %v; want offset %d", st, err, 5*uploadChunk)
	}
	var last *parleyv1.UploadStatus
	for o := st.Msg.GetUpload().GetOffset(); o < size; o += uploadChunk {
		if last, err = chunk(o); err != nil {
			t.Fatal(err)
		}
	}
	if last.GetFile().GetSha256() != sum {
		t.Fatalf("final status %v", last)
	}
	// The file can be attached to a message in its room.
	msg, err := u.Messages.SendMessage(ctx, connect.NewRequest(&parleyv1.SendMessageRequest{
		RoomId: u.roomID, ClientMessageId: "att", AttachmentIds: []string{last.GetFile().GetId()},
	}))
	if err != nil || len(msg.Msg.GetMessage().GetAttachments()) != 1 || msg.Msg.GetMessage().GetAttachments()[0].GetSha256() != sum {
		t.Fatalf("SendMessage with attachment: %v, %v", msg, err)
	}
}

// TestUploadRefusals: a wrong hash stores nothing; an oversized file is
// refused before any byte is written; attachments must be files of the room.
func TestUploadRefusals(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t, server.WithMaxFileBytes(1<<20))
	u := newFileUser(t, srv, "grpc/proto/h2c", "refused")
	ctx := context.Background()
	data, _ := testserver.RandomContent(100 << 10)
	_, wrong := testserver.RandomContent(10)

	stream := u.Files.Upload(ctx)
	_ = stream.Send(&parleyv1.UploadRequest{Frame: &parleyv1.UploadRequest_Start{Start: &parleyv1.UploadStart{Target: &parleyv1.UploadStart_Metadata{
		Metadata: &parleyv1.UploadMetadata{RoomId: u.roomID, Name: "x.bin", Size: int64(len(data)), Sha256: wrong},
	}}}})
	_ = stream.Send(&parleyv1.UploadRequest{Frame: &parleyv1.UploadRequest_Chunk{Chunk: data}})
	if _, err := stream.CloseAndReceive(); connect.CodeOf(err) != connect.CodeDataLoss {
		t.Errorf("wrong hash: %v, want data_loss", err)
	}
	if n := storedBlobs(t, srv); n != 0 {
		t.Errorf("%d contents stored after a hash mismatch", n)
	}
	parts, _ := filepath.Glob(filepath.Join(srv.FilesDir, "uploads", "*"))
	if len(parts) != 0 {
		t.Errorf("partial contents left behind: %v", parts)
	}

	_, err := u.Files.CreateUpload(ctx, connect.NewRequest(&parleyv1.CreateUploadRequest{Metadata: &parleyv1.UploadMetadata{
		RoomId: u.roomID, Name: "huge.bin", Size: 1<<20 + 1, Sha256: wrong,
	}}))
	if connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Errorf("oversize: %v, want resource_exhausted", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(srv.FilesDir, "uploads")); len(entries) != 0 {
		t.Errorf("oversize upload wrote %d files", len(entries))
	}

	_, err = u.Messages.SendMessage(ctx, connect.NewRequest(&parleyv1.SendMessageRequest{
		RoomId: u.roomID, Text: "see", ClientMessageId: "a1", AttachmentIds: []string{"f_nosuchfile"},
	}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("unknown attachment: %v, want invalid_argument", err)
	}
}

func TestDownloadMembersOnly(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	owner := newFileUser(t, srv, "connect/proto/h2c", "fileowner")
	stranger := newFileUser(t, srv, "connect/proto/h2c", "stranger")
	ctx := context.Background()
	data, sum := testserver.RandomContent(1000)
	up, err := owner.Files.CreateUpload(ctx, connect.NewRequest(&parleyv1.CreateUploadRequest{Metadata: &parleyv1.UploadMetadata{
		RoomId: owner.roomID, Name: "secret.txt", Size: 1000, Sha256: sum,
	}}))
	if err != nil {
		t.Fatal(err)
	}
	res, err := owner.Files.UploadChunk(ctx, connect.NewRequest(&parleyv1.UploadChunkRequest{UploadId: up.Msg.GetUpload().GetUploadId(), Data: data}))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := stranger.Files.Download(ctx, connect.NewRequest(&parleyv1.DownloadRequest{FileId: res.Msg.GetUpload().GetFile().GetId()}))
	if err == nil {
		for stream.Receive() {
			t.Fatal("a non-member received file data")
		}
		err = stream.Err()
	}
	if connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("non-member download: %v, want permission_denied", err)
	}
	if _, err := stranger.Files.GetUpload(ctx, connect.NewRequest(&parleyv1.GetUploadRequest{UploadId: up.Msg.GetUpload().GetUploadId()})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("someone else's upload: %v, want not_found", err)
	}
}
