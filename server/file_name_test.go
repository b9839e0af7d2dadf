package server_test

import (
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/internal/testserver"
)

// TestUploadNameRefused sends file names with CR/LF, other control
// characters and bidi overrides on CreateUpload and as the first frame of
// Upload: each is invalid_argument with a field violation on the name.
func TestUploadNameRefused(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	u := newFileUser(t, srv, "grpc/proto/h2c", "namer")
	ctx := context.Background()
	sum := strings.Repeat("0", 64)
	for _, name := range []string{"a.txt\r\nX-Evil: 1", "a\x00b", "\x1b]0;pwned\x07", "invoice\u202Efdp.exe", "a\u2066b\u2069", "a\u200Fb"} {
		meta := &parleyv1.UploadMetadata{RoomId: u.roomID, Name: name, Size: 10, Sha256: sum}
		_, err := u.Files.CreateUpload(ctx, connect.NewRequest(&parleyv1.CreateUploadRequest{Metadata: meta}))
		wantFieldViolations(t, err, "metadata.name")

		stream := u.Files.Upload(ctx)
		_ = stream.Send(&parleyv1.UploadRequest{Frame: &parleyv1.UploadRequest_Start{Start: &parleyv1.UploadStart{
			Target: &parleyv1.UploadStart_Metadata{Metadata: meta},
		}}})
		_, err = stream.CloseAndReceive()
		wantFieldViolations(t, err, "start.metadata.name")
	}
}
