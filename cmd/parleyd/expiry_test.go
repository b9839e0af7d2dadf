package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// inProcess is parleyd run in this process (run), with its log.
type inProcess struct {
	url    string
	cancel context.CancelFunc
	done   chan error

	mu   sync.Mutex
	log  []string
	more chan struct{} // closed and replaced at each line
}

// startInProcess runs parleyd with args, at log level info, until it
// listens.
func startInProcess(t *testing.T, args ...string) *inProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &inProcess{cancel: cancel, done: make(chan error, 1), more: make(chan struct{})}
	pr, pw := io.Pipe()
	go func() {
		p.done <- run(ctx, args, func(string) string { return "" }, pw)
		_ = pw.Close()
	}()
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "parleyd listening on "); ok {
				listening <- u
			}
			p.mu.Lock()
			p.log = append(p.log, sc.Text())
			close(p.more)
			p.more = make(chan struct{})
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel() })
	select {
	case p.url = <-listening:
		return p
	case err := <-p.done:
		t.Fatalf("parleyd exited before listening: %v", err)
	case <-time.After(timeBound(30 * time.Second)):
		t.Fatal("parleyd did not start")
	}
	return nil
}

// waitLog returns the first log line containing s, waiting up to within.
func (p *inProcess) waitLog(t *testing.T, s string, within time.Duration) string {
	t.Helper()
	timeout := time.After(within)
	for {
		p.mu.Lock()
		for _, line := range p.log {
			if strings.Contains(line, s) {
				p.mu.Unlock()
				return line
			}
		}
		more, log := p.more, strings.Join(p.log, "\n")
		p.mu.Unlock()
		select {
		case <-more:
		case <-timeout:
			t.Fatalf("no log line with %q within %v:\n%s", s, within, log)
		}
	}
}

// stop shuts parleyd down as a signal would, and fails the test unless run
// returns nil.
func (p *inProcess) stop(t *testing.T) {
	t.Helper()
	p.cancel()
	if err := <-p.done; err != nil {
		t.Errorf("run: %v", err)
	}
}
