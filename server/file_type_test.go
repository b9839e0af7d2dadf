package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/internal/testserver"
)

// TestServedContentType: whatever type an uploader declares, every way a
// file is reported (the completed upload, the message it is attached to,
// history, the live stream, the download) says application/octet-stream
// unless the type is an inert one; on every protocol and codec.
func TestServedContentType(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	cases := []struct{ declared, want string }{
		{"text/html", "application/octet-stream"},
		{"image/svg+xml", "application/octet-stream"},
		{"Text/HTML; charset=utf-8", "application/octet-stream"},
		{"application/xhtml+xml", "application/octet-stream"},
		{"image/png", "image/png"},
		{"text/plain; charset=UTF-8", "text/plain; charset=utf-8"},
	}
	for i, name := range []string{"connect/json/http1", "connect/proto/h2c", "grpc/proto/h2c", "grpcweb/json/http1"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			u := newFileUser(t, srv, name, fmt.Sprintf("typer%d", i))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			sub, err := u.Messages.Subscribe(ctx, connect.NewRequest(&parleyv1.SubscribeRequest{RoomId: u.roomID}))
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			check := func(what, declared, got, want string) {
				t.Helper()
				if got != want {
					t.Errorf("%s of a file declared %q: content_type %q, want %q", what, declared, got, want)
				}
			}
			for j, tc := range cases {
				data := []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>`)
				sum := sha256.Sum256(data)
				created, err := u.Files.CreateUpload(ctx, connect.NewRequest(&parleyv1.CreateUploadRequest{Metadata: &parleyv1.UploadMetadata{
					RoomId: u.roomID, Name: "evil", ContentType: tc.declared, Size: int64(len(data)), Sha256: hex.EncodeToString(sum[:]),
				}}))
				if err != nil {
					t.Fatal(err)
				}
				done, err := u.Files.UploadChunk(ctx, connect.NewRequest(&parleyv1.UploadChunkRequest{UploadId: created.Msg.GetUpload().GetUploadId(), Data: data}))
				if err != nil {
					t.Fatal(err)
				}
				file := done.Msg.GetUpload().GetFile()
				check("the completed upload", tc.declared, file.GetContentType(), tc.want)
				sent, err := u.Messages.SendMessage(ctx, connect.NewRequest(&parleyv1.SendMessageRequest{
					RoomId: u.roomID, ClientMessageId: fmt.Sprint("m", j), AttachmentIds: []string{file.GetId()},
				}))
				if err != nil {
					t.Fatal(err)
				}
				check("SendMessage", tc.declared, sent.Msg.GetMessage().GetAttachments()[0].GetContentType(), tc.want)
				for sub.Receive() && sub.Msg().GetMessage() == nil { //nolint:revive // skip to the first message: the work is in the condition
				}
				check("Subscribe", tc.declared, sub.Msg().GetMessage().GetAttachments()[0].GetContentType(), tc.want)
				after := sent.Msg.GetMessage().GetSeq() - 1
				history, err := u.Messages.ListMessages(ctx, connect.NewRequest(&parleyv1.ListMessagesRequest{RoomId: u.roomID, AfterSeq: &after}))
				if err != nil {
					t.Fatal(err)
				}
				check("ListMessages", tc.declared, history.Msg.GetMessages()[0].GetAttachments()[0].GetContentType(), tc.want)
				dl, err := u.Files.Download(ctx, connect.NewRequest(&parleyv1.DownloadRequest{FileId: file.GetId()}))
				if err != nil || !dl.Receive() {
					t.Fatalf("Download: %v %v", err, dl.Err())
				}
				check("Download", tc.declared, dl.Msg().GetFile().GetContentType(), tc.want)
				_ = dl.Close()
			}
		})
	}
}
