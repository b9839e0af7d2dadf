package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/internal/testserver"
)

// TestAbandonedUploadsExpire: an upload abandoned at 256 KiB of 1 MiB and a
// finished one; parleyd stops, and starts again with --upload-expiry 1s
// once the upload is older than that: the sweep at start deletes the
// abandoned upload's part file and says so in the log, GetUpload answers
// not_found, and the finished file still downloads. Both runs stop cleanly.
func TestAbandonedUploadsExpire(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	args := []string{"--addr", "127.0.0.1:0", "--admin-addr", "none", "--data-dir", dir}
	ctx := t.Context()
	hc := testserver.H2CClient()

	first := startInProcess(t, args...)
	auth := parleyv1connect.NewAuthServiceClient(hc, first.url)
	signUp, err := auth.SignUp(ctx, connect.NewRequest(&parleyv1.SignUpRequest{Username: "leaver", Password: testserver.Password}))
	if err != nil {
		t.Fatal(err)
	}
	token := testserver.WithToken(signUp.Msg.GetToken())
	room, err := parleyv1connect.NewRoomServiceClient(hc, first.url, token).CreateRoom(ctx, connect.NewRequest(&parleyv1.CreateRoomRequest{Name: "uploads"}))
	if err != nil {
		t.Fatal(err)
	}
	files := parleyv1connect.NewFileServiceClient(hc, first.url, token)
	create := func(name string, content []byte) string {
		t.Helper()
		sum := sha256.Sum256(content)
		res, err := files.CreateUpload(ctx, connect.NewRequest(&parleyv1.CreateUploadRequest{Metadata: &parleyv1.UploadMetadata{
			RoomId: room.Msg.GetRoom().GetId(), Name: name, Size: int64(len(content)), Sha256: hex.EncodeToString(sum[:]),
		}}))
		if err != nil {
			t.Fatalf("CreateUpload %s: %v", name, err)
		}
		return res.Msg.GetUpload().GetUploadId()
	}
	chunk := func(id string, data []byte) *parleyv1.UploadStatus {
		t.Helper()
		res, err := files.UploadChunk(ctx, connect.NewRequest(&parleyv1.UploadChunkRequest{UploadId: id, Data: data}))
		if err != nil {
			t.Fatalf("UploadChunk %s: %v", id, err)
		}
		return res.Msg.GetUpload()
	}
	big := bytes.Repeat([]byte("abandoned "), 1<<20/10)
	abandoned := create("abandoned.bin", big)
	createdBy := time.Now()
	chunk(abandoned, big[:256<<10])
	finished := []byte("a finished file stays")
	fileID := chunk(create("finished.txt", finished), finished).GetFile().GetId()
	part := filepath.Join(dir, "files", "uploads", abandoned+".part")
	if info, err := os.Stat(part); err != nil || info.Size() != 256<<10 {
		t.Fatalf("part file of the abandoned upload: %v, %v; want 256 KiB", info, err)
	}
	first.stop(t)

	time.Sleep(time.Until(createdBy.Add(1100 * time.Millisecond))) // not a timing assertion: the upload must be older than the expiry
	second := startInProcess(t, append(args, "--upload-expiry", "1s")...)
	line := second.waitLog(t, "expired abandoned uploads", timeBound(10*time.Second))
	t.Logf("parleyd logged: %s", line)
	if !strings.Contains(line, "uploads=1 bytes=262144") {
		t.Errorf("log line %q does not say one upload of 262144 bytes was reclaimed", line)
	}
	if _, err := os.Stat(part); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("part file after the expiry: %v, want it gone", err)
	}
	files = parleyv1connect.NewFileServiceClient(hc, second.url, token)
	_, err = files.GetUpload(ctx, connect.NewRequest(&parleyv1.GetUploadRequest{UploadId: abandoned}))
	t.Logf("GetUpload of the expired upload: %v", err)
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("GetUpload of the expired upload: %v, want not_found", err)
	}
	download, err := files.Download(ctx, connect.NewRequest(&parleyv1.DownloadRequest{FileId: fileID}))
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	for download.Receive() {
		got = append(got, download.Msg().GetData()...)
	}
	if err := download.Err(); err != nil || !bytes.Equal(got, finished) {
		t.Errorf("download of the finished file: %q, %v; want %q", got, err, finished)
	}
	second.stop(t)
}
