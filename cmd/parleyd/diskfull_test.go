package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/internal/testserver"
)

// mountTmpfs mounts a tmpfs of size bytes on a new directory and returns
// it; it is unmounted when the test ends. It needs root: otherwise the test
// skips, or fails when CI is set, so CI cannot lose the test in silence.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("CI") != "" {
		skip = t.Fatalf
	}
	if os.Geteuid() != 0 {
		skip("needs root to mount a tmpfs as --data-dir (CI runs it as root; with CI set this is a failure)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		skip("mount -t tmpfs: %v: %s", err, out)
	}
	// Registered after TempDir, so it runs before TempDir's removal, and
	// before the children that startChild registers later are killed.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount: %v: %s", err, out)
		}
	})
	return dir
}

// freeBytes is the space left on the file system holding dir.
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// fillUpTo writes a filler file on dir's file system until at most leave
// bytes are free, and returns its path and size.
func fillUpTo(t *testing.T, dir string, leave int64) (string, int64) {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	var n int64
	for free := freeBytes(t, dir); free > leave; free = freeBytes(t, dir) {
		chunk := buf[:min(int64(len(buf)), free-leave)]
		w, err := f.Write(chunk)
		n += int64(w)
		if err != nil {
			t.Fatalf("filler: %v", err)
		}
	}
	return path, n
}

// codeAndDetail returns err's code, its message and its UploadPosition
// detail, if any.
func codeAndDetail(err error) (connect.Code, string, *parleyv1.UploadPosition) {
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		return connect.CodeOf(err), fmt.Sprint(err), nil
	}
	var pos *parleyv1.UploadPosition
	for _, d := range cerr.Details() {
		if v, err := d.Value(); err == nil {
			if p, ok := v.(*parleyv1.UploadPosition); ok {
				pos = p
			}
		}
	}
	return cerr.Code(), cerr.Message(), pos
}

// TestDiskFull runs parleyd on a small tmpfs, takes most of its space with
// a filler file and fills the rest through the API: uploads and sends then
// fail with resource_exhausted and say the storage is full, health turns
// NOT_SERVING, and reads (history, downloads, upload status) still work.
// Once the filler is deleted health returns to SERVING, the upload
// continues where it stopped and sends succeed; every acknowledged message
// is there, also after a restart.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	const tmpfsSize = 8 << 20
	dir := mountTmpfs(t, tmpfsSize)
	cmd, url := startChild(t, dir, "--limit-sends-per-user", "off") // fills the disk fast: not a test of the send limit
	ctx := context.Background()
	hc := testserver.H2CClient()
	u := testserver.SignUp(t, testserver.H2C(url), "filler")
	token := testserver.WithToken(u.Token)
	rooms, messages, files := u.Rooms, u.Messages, u.Files
	roomID := u.CreateRoom(t, "full", parleyv1.Visibility_VISIBILITY_UNSPECIFIED).GetId()
	health := grpchealth.NewClient(hc, url, connect.WithGRPC())

	acked := map[int64]string{} // seq -> client message id
	send := func(i int) error {
		id := fmt.Sprintf("m%d", i)
		res, err := messages.SendMessage(ctx, connect.NewRequest(&parleyv1.SendMessageRequest{
			RoomId: roomID, Text: id + strings.Repeat(" lorem ipsum", 300), ClientMessageId: id,
		}))
		if err == nil {
			acked[res.Msg.GetMessage().GetSeq()] = id
		}
		return err
	}
	next := 0
	for ; next < 50; next++ {
		if err := send(next); err != nil {
			t.Fatal(err)
		}
	}
	// A file uploaded before the disk fills, to download while it is full.
	small := make([]byte, 100<<10)
	_, _ = rand.Read(small)
	smallRes, err := files.UploadChunk(ctx, connect.NewRequest(&parleyv1.UploadChunkRequest{UploadId: createUpload(t, files, roomID, "before.bin", small), Data: small}))
	if err != nil {
		t.Fatal(err)
	}
	smallFile := smallRes.Msg.GetUpload().GetFile()

	const leave = 512 << 10
	filler, fillerSize := fillUpTo(t, dir, leave)
	t.Logf("tmpfs %d KiB; filler %d KiB, %d KiB left for the API", tmpfsSize>>10, fillerSize>>10, freeBytes(t, dir)>>10)

	// Fill the rest through the API: a 2 MiB upload in 64 KiB chunks.
	big := make([]byte, 2<<20)
	_, _ = rand.Read(big)
	bigID := createUpload(t, files, roomID, "during.bin", big)
	var offset int64
	var fullAt time.Time
	for offset < int64(len(big)) {
		res, err := files.UploadChunk(ctx, connect.NewRequest(&parleyv1.UploadChunkRequest{UploadId: bigID, Offset: offset, Data: big[offset:min(offset+64<<10, int64(len(big)))]}))
		if err != nil {
			fullAt = time.Now()
			code, msg, _ := codeAndDetail(err)
			t.Logf("UploadChunk at offset %d KiB: %v %q", offset>>10, code, msg)
			if code != connect.CodeResourceExhausted || !strings.Contains(msg, "storage is full") {
				t.Fatalf("UploadChunk on a full disk: %v, want resource_exhausted saying the storage is full", err)
			}
			break
		}
		offset = res.Msg.GetUpload().GetOffset()
	}
	if fullAt.IsZero() {
		t.Fatalf("the whole %d-byte upload fit in %d bytes", len(big), leave)
	}
	// The Upload stream gets the same answer, with where to continue.
	stream := files.Upload(ctx)
	_ = stream.Send(&parleyv1.UploadRequest{Frame: &parleyv1.UploadRequest_Start{Start: &parleyv1.UploadStart{
		Target: &parleyv1.UploadStart_UploadId{UploadId: bigID}, Offset: offset,
	}}})
	_ = stream.Send(&parleyv1.UploadRequest{Frame: &parleyv1.UploadRequest_Chunk{Chunk: big[offset : offset+256<<10]}})
	_, err = stream.CloseAndReceive()
	code, msg, pos := codeAndDetail(err)
	t.Logf("Upload stream at offset %d KiB: %v %q, UploadPosition %v", offset>>10, code, msg, pos)
	if code != connect.CodeResourceExhausted || pos.GetUploadId() != bigID || pos.GetOffset() != offset {
		t.Errorf("Upload stream on a full disk: %v, position %v; want resource_exhausted at offset %d", err, pos, offset)
	}
	// Sends fill what is left of the database's room.
	sentWhileFilling := 0
	for ; ; next++ {
		err := send(next)
		if err == nil {
			sentWhileFilling++
			if sentWhileFilling > 10000 {
				t.Fatal("sends never failed")
			}
			continue
		}
		code, msg, _ := codeAndDetail(err)
		t.Logf("SendMessage after %d more sends: %v %q", sentWhileFilling, code, msg)
		if code != connect.CodeResourceExhausted || !strings.Contains(msg, "storage is full") {
			t.Fatalf("SendMessage on a full disk: %v, want resource_exhausted saying the storage is full", err)
		}
		break
	}
	// A small write may still fit in a page a larger one could not use (a
	// send writes a message and its room log row); the first write that
	// does not fit answers resource_exhausted.
	created := 0
	for ; created < 1000; created++ {
		_, err = rooms.CreateRoom(ctx, connect.NewRequest(&parleyv1.CreateRoomRequest{Name: fmt.Sprintf("more-%d", created)}))
		if err != nil {
			break
		}
	}
	t.Logf("CreateRoom after %d more rooms: %v", created, err)
	if connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Errorf("CreateRoom on a full disk: %v, want resource_exhausted", err)
	}

	// waitHealth waits until health reports want and returns when it did.
	waitHealth := func(want grpchealth.Status, within time.Duration) time.Time {
		t.Helper()
		start := time.Now()
		for {
			res, err := health.Check(ctx, &grpchealth.CheckRequest{})
			if err == nil && res.Status == want {
				return time.Now()
			}
			if time.Since(start) > within {
				t.Fatalf("health %v, %v after %v; want %v", res, err, within, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Logf("NOT_SERVING %v after the first failed write", waitHealth(grpchealth.StatusNotServing, time.Second).Sub(fullAt).Round(time.Millisecond))

	// Reads go on, and health stays NOT_SERVING while the disk is full
	// (WatchStore probes every 2 s).
	history := listAll(t, messages, roomID)
	if len(history) != len(acked) {
		t.Errorf("ListMessages while full: %d messages, %d acknowledged", len(history), len(acked))
	}
	if got := downloadAll(t, files, smallFile.GetId()); !bytes.Equal(got, small) {
		t.Errorf("Download while full: %d bytes differ", len(got))
	}
	st, err := files.GetUpload(ctx, connect.NewRequest(&parleyv1.GetUploadRequest{UploadId: bigID}))
	if err != nil || st.Msg.GetUpload().GetOffset() != offset {
		t.Errorf("GetUpload while full: %v, %v; want offset %d", st, err, offset)
	}
	time.Sleep(5 * time.Second)
	if res, err := health.Check(ctx, &grpchealth.CheckRequest{Service: "parley.v1.MessageService"}); err != nil || res.Status != grpchealth.StatusNotServing {
		t.Errorf("health 5 s into the full disk: %v, %v; want NOT_SERVING", res, err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	t.Logf("SERVING %v after deleting the filler", waitHealth(grpchealth.StatusServing, 10*time.Second).Sub(freed).Round(time.Millisecond))

	// Writes succeed again: the upload continues where it stopped.
	for offset < int64(len(big)) {
		res, err := files.UploadChunk(ctx, connect.NewRequest(&parleyv1.UploadChunkRequest{UploadId: bigID, Offset: offset, Data: big[offset:min(offset+256<<10, int64(len(big)))]}))
		if err != nil {
			t.Fatalf("UploadChunk after freeing space, at %d: %v", offset, err)
		}
		offset = res.Msg.GetUpload().GetOffset()
		if f := res.Msg.GetUpload().GetFile(); f != nil {
			if got := downloadAll(t, files, f.GetId()); !bytes.Equal(got, big) {
				t.Errorf("the upload completed after freeing space downloads %d different bytes", len(got))
			}
		}
	}
	for end := next + 20; next < end; next++ {
		if err := send(next); err != nil {
			t.Fatalf("send after freeing space: %v", err)
		}
	}

	checkLedger := func(when string) {
		t.Helper()
		stored := listAll(t, messages, roomID)
		for i, m := range stored {
			if m.GetSeq() != int64(i+1) {
				t.Fatalf("%s: seq %d at position %d: not contiguous", when, m.GetSeq(), i)
			}
		}
		for seq, id := range acked {
			if seq > int64(len(stored)) || stored[seq-1].GetClientMessageId() != id {
				t.Errorf("%s: acknowledged seq %d (%s) lost", when, seq, id)
			}
		}
		if len(stored) != len(acked) {
			t.Errorf("%s: %d stored, %d acknowledged", when, len(stored), len(acked))
		}
		t.Logf("%s: %d acknowledged, %d stored", when, len(acked), len(stored))
	}
	checkLedger("after freeing space")

	// And after a restart on the same directory.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("parleyd after SIGTERM: %v", err)
	}
	_, url = startChild(t, dir, "--limit-sends-per-user", "off")
	messages = parleyv1connect.NewMessageServiceClient(hc, url, token)
	checkLedger("after a restart")
}

// createUpload creates an upload of content, named name, in roomID and
// returns its id.
func createUpload(t *testing.T, files parleyv1connect.FileServiceClient, roomID, name string, content []byte) string {
	t.Helper()
	sum := sha256.Sum256(content)
	res, err := files.CreateUpload(context.Background(), connect.NewRequest(&parleyv1.CreateUploadRequest{Metadata: &parleyv1.UploadMetadata{
		RoomId: roomID, Name: name, Size: int64(len(content)), Sha256: hex.EncodeToString(sum[:]),
	}}))
	if err != nil {
		t.Fatalf("CreateUpload %s: %v", name, err)
	}
	return res.Msg.GetUpload().GetUploadId()
}

// listAll reads a room's whole history.
func listAll(t *testing.T, messages parleyv1connect.MessageServiceClient, roomID string) []*parleyv1.Message {
	t.Helper()
	var stored []*parleyv1.Message
	for after := int64(0); ; {
		res, err := messages.ListMessages(context.Background(), connect.NewRequest(&parleyv1.ListMessagesRequest{
			RoomId: roomID, AfterSeq: &after, Limit: 500,
		}))
		if err != nil {
			t.Fatalf("ListMessages: %v", err)
		}
		if len(res.Msg.GetMessages()) == 0 {
			return stored
		}
		stored = append(stored, res.Msg.GetMessages()...)
		after = stored[len(stored)-1].GetSeq()
	}
}

// downloadAll reads a whole file.
func downloadAll(t *testing.T, files parleyv1connect.FileServiceClient, fileID string) []byte {
	t.Helper()
	stream, err := files.Download(context.Background(), connect.NewRequest(&parleyv1.DownloadRequest{FileId: fileID}))
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for stream.Receive() {
		out = append(out, stream.Msg().GetData()...)
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("Download: %v", err)
	}
	return out
}
