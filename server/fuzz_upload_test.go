package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"connectrpc.com/connect"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/internal/testserver"
)

// FuzzUploadChunkOffset sends chunks at arbitrary offsets and lengths to an
// upload. Only a chunk at the upload's current offset that fits in the
// announced size may be accepted; anything else must be refused with
// failed_precondition or invalid_argument and leave the upload unchanged.
// The upload must never end up with bytes other than the announced ones.
func FuzzUploadChunkOffset(f *testing.F) {
	f.Add(int64(0), uint16(10))
	f.Add(int64(5), uint16(5))
	f.Add(int64(-1), uint16(1))
	f.Add(int64(1<<62), uint16(3))
	f.Add(int64(0), uint16(100))
	srv := testserver.Start(f)
	u := newFileUser(f, srv, "connect/proto/h2c", "fuzzupload")
	const size = 64
	content := make([]byte, size)
	for i := range content {
		content[i] = byte(i)
	}
	sum := sha256.Sum256(content)
	f.Fuzz(func(t *testing.T, offset int64, length uint16) {
		ctx := context.Background()
		created, err := u.Files.CreateUpload(ctx, connect.NewRequest(&parleyv1.CreateUploadRequest{Metadata: &parleyv1.UploadMetadata{
			RoomId: u.roomID, Name: "f.bin", Size: size, Sha256: hex.EncodeToString(sum[:]),
		}}))
		if err != nil {
			t.Fatal(err)
		}
		id := created.Msg.GetUpload().GetUploadId()
		// The first half arrives properly; then the fuzzed chunk.
		if _, err := u.Files.UploadChunk(ctx, connect.NewRequest(&parleyv1.UploadChunkRequest{UploadId: id, Data: content[:size/2]})); err != nil {
			t.Fatal(err)
		}
		data := make([]byte, int(length)%(2*size)+1)
		if offset >= 0 && offset < size {
			copy(data, content[offset:])
		}
		res, err := u.Files.UploadChunk(ctx, connect.NewRequest(&parleyv1.UploadChunkRequest{UploadId: id, Offset: offset, Data: data}))
		fits := offset == size/2 && offset+int64(len(data)) <= size
		switch code := connect.CodeOf(err); {
		case fits && err != nil && code != connect.CodeDataLoss:
			t.Fatalf("chunk at %d+%d refused: %v", offset, len(data), err)
		case !fits && err == nil:
			t.Fatalf("chunk at %d+%d accepted: %v", offset, len(data), res.Msg.GetUpload())
		case !fits && code != connect.CodeFailedPrecondition && code != connect.CodeInvalidArgument:
			t.Fatalf("chunk at %d+%d: %v, want failed_precondition or invalid_argument", offset, len(data), err)
		}
		st, err := u.Files.GetUpload(ctx, connect.NewRequest(&parleyv1.GetUploadRequest{UploadId: id}))
		switch {
		case connect.CodeOf(err) == connect.CodeNotFound:
			// a completed chunk with the wrong bytes discarded the upload (data_loss)
		case err != nil:
			t.Fatal(err)
		case !fits && st.Msg.GetUpload().GetOffset() != size/2:
			t.Fatalf("refused chunk moved the offset to %d", st.Msg.GetUpload().GetOffset())
		case st.Msg.GetUpload().GetFile() != nil && st.Msg.GetUpload().GetFile().GetSha256() != hex.EncodeToString(sum[:]):
			t.Fatalf("stored a file with the wrong content")
		}
	})
}
