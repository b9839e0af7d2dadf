package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
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

	first := startInProcess(t, args...)
	u := testserver.SignUp(t, testserver.H2C(first.url), "leaver")
	room := u.CreateRoom(t, "uploads", parleyv1.Visibility_VISIBILITY_UNSPECIFIED)
	files := u.Files
	create := func(name string, content []byte) string {
		t.Helper()
		return createUpload(t, files, room.GetId(), name, content)
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
	files = u.Via(testserver.H2C(second.url)).Files
	_, err := files.GetUpload(ctx, connect.NewRequest(&parleyv1.GetUploadRequest{UploadId: abandoned}))
	t.Logf("GetUpload of the expired upload: %v", err)
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("GetUpload of the expired upload: %v, want not_found", err)
	}
	if got := downloadAll(t, files, fileID); !bytes.Equal(got, finished) {
		t.Errorf("download of the finished file: %q; want %q", got, finished)
	}
	second.stop(t)
}
