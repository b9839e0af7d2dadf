package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/client"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/internal/pgtest"
	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/postgres"
)

// filesCluster is a user with a room, on replicas of one database, and a
// Parley Go client per replica.
type filesCluster struct {
	db       string
	replicas []*replica
	clients  []*client.Client
	token    string
	roomID   string
}

func setUpFiles(t *testing.T, prefix string) *filesCluster {
	t.Helper()
	_, db := pgtest.Schema(t, 8)
	c := &filesCluster{db: db, replicas: startReplicas(t, prefix, 3, db)}
	u := testserver.SignUp(t, testserver.H2C(c.replicas[0].url()), "uploader")
	c.token = u.Token
	c.roomID = u.CreateRoom(t, "files", parleyv1.Visibility_VISIBILITY_PUBLIC).GetId()
	for _, r := range c.replicas {
		cl, err := client.New(r.url(), client.WithToken(u.Token), client.WithBackoff(20*time.Millisecond, 200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		c.clients = append(c.clients, cl)
	}
	return c
}

// create announces content in the room through replica i.
func (c *filesCluster) create(t *testing.T, i int, name string, content []byte, sum string) client.UploadStatus {
	t.Helper()
	st, err := c.clients[i].CreateUpload(t.Context(), parley.UploadMeta{RoomID: c.roomID, Name: name, ContentType: "application/octet-stream", Size: int64(len(content)), SHA256: sum})
	if err != nil {
		t.Fatalf("CreateUpload on %s: %v", c.replicas[i].name, err)
	}
	return st
}

// wantAgree fails the test unless GetUpload answers the same on every
// replica whose client is listed, and returns that answer.
func (c *filesCluster) wantAgree(t *testing.T, uploadID string, replicas ...int) client.UploadStatus {
	t.Helper()
	var first client.UploadStatus
	for n, i := range replicas {
		st, err := c.clients[i].GetUpload(t.Context(), uploadID)
		if err != nil {
			t.Fatalf("GetUpload on %s: %v", c.replicas[i].name, err)
		}
		if n == 0 {
			first = st
			continue
		}
		if st.Offset != first.Offset || st.Meta != first.Meta || (st.File == nil) != (first.File == nil) ||
			st.File != nil && (st.File.ID != first.File.ID || st.File.SHA256 != first.File.SHA256) {
			t.Errorf("GetUpload on %s = %+v, on %s = %+v; want the same", c.replicas[i].name, st, c.replicas[replicas[0]].name, first)
		}
	}
	return first
}

// download reads a file through replica i and fails the test unless it is
// content, byte for byte; it returns the throughput in MiB/s. Its client
// does not accept gzip, which the server would otherwise spend on every
// frame (incompressible here) and which, under -race by far, would be most
// of what is measured.
func (c *filesCluster) download(t *testing.T, i int, fileID string, content []byte) float64 {
	t.Helper()
	files := parleyv1connect.NewFileServiceClient(testserver.H2CClient(), c.replicas[i].url(),
		connect.WithAcceptCompression("gzip", nil, nil), testserver.WithToken(c.token))
	start := time.Now()
	stream, err := files.Download(t.Context(), connect.NewRequest(&parleyv1.DownloadRequest{FileId: fileID}))
	if err != nil {
		t.Fatalf("Download from %s: %v", c.replicas[i].name, err)
	}
	defer stream.Close()
	var got bytes.Buffer
	for stream.Receive() {
		if off := stream.Msg().GetOffset(); off != int64(got.Len()) {
			t.Fatalf("Download from %s: frame at offset %d after %d bytes", c.replicas[i].name, off, got.Len())
		}
		got.Write(stream.Msg().GetData())
	}
	took := time.Since(start)
	if err := stream.Err(); err != nil {
		t.Fatalf("Download from %s: %v", c.replicas[i].name, err)
	}
	if !bytes.Equal(got.Bytes(), content) {
		t.Fatalf("Download from %s: %d bytes that differ from the %d uploaded", c.replicas[i].name, got.Len(), len(content))
	}
	return mibPerSecond(len(content), took)
}

func mibPerSecond(n int, d time.Duration) float64 { return float64(n) / (1 << 20) / d.Seconds() }

// TestUploadResumesOnAnotherReplica runs three parleyd processes on one
// PostgreSQL database: a 20 MiB upload starts on A and is cut after about
// 8 MiB; GetUpload tells the same offset on A, B and C; the upload resumes
// on B from there, and the file downloads byte-identical from C (and A and
// B). It prints each replica's throughput.
func TestUploadResumesOnAnotherReplica(t *testing.T) {
	t.Parallel()
	c := setUpFiles(t, "files")
	const size, cutAt = 20 << 20, 8 << 20
	content, sum := testserver.RandomContent(size)
	st := c.create(t, 0, "twenty.bin", content, sum)

	ctx, cut := context.WithCancel(t.Context())
	start := time.Now()
	_, err := c.clients[0].Upload(ctx, st.ID, bytes.NewReader(content), client.WithProgress(func(done, _ int64) {
		if done >= cutAt {
			cut()
		}
	}))
	cut()
	onA := time.Since(start)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Upload on A, cut after %d bytes: %v, want context.Canceled", cutAt, err)
	}
	// A stores what arrived before the cut: wait until that settles, then
	// every replica must tell the same.
	var cutOff int64 = -1
	waitFor(10*time.Second, func() bool {
		time.Sleep(50 * time.Millisecond)
		now, err := c.clients[0].GetUpload(t.Context(), st.ID)
		settled := err == nil && now.Offset == cutOff
		cutOff = now.Offset
		return settled
	})
	if stood := c.wantAgree(t, st.ID, 0, 1, 2); stood.Offset != cutOff || stood.File != nil || cutOff <= 0 || cutOff >= size {
		t.Fatalf("after the cut the upload stands at %d of %d bytes (%+v), want in between", stood.Offset, size, stood.File)
	}

	start = time.Now()
	f, err := c.clients[1].Upload(t.Context(), st.ID, bytes.NewReader(content))
	if err != nil {
		t.Fatalf("Upload resumed on B: %v", err)
	}
	onB := time.Since(start)
	if f.SHA256 != sum || f.Size != size {
		t.Fatalf("file %+v, want %d bytes with SHA-256 %s", f, size, sum)
	}
	if done := c.wantAgree(t, st.ID, 0, 1, 2); done.File == nil || done.File.ID != f.ID || done.Offset != size {
		t.Errorf("GetUpload after completion = %+v, want file %s at offset %d", done, f.ID, size)
	}
	var rates []string
	for _, i := range []int{2, 0, 1} {
		rates = append(rates, fmt.Sprintf("%s %.1f MiB/s", c.replicas[i].name, c.download(t, i, f.ID, content)))
	}
	t.Logf("20 MiB upload: %.1f MiB on A at %.1f MiB/s, cut; the other %.1f MiB on B at %.1f MiB/s; downloads: %v",
		float64(cutOff)/(1<<20), mibPerSecond(int(cutOff), onA), float64(size-cutOff)/(1<<20), mibPerSecond(int(size-cutOff), onB), rates)
}

// TestUploadSurvivesKilledReplica sends an upload's chunks to A one
// UploadChunk at a time and SIGKILLs A while chunks are in flight: every
// chunk A acknowledged is there when B is asked (at most the one in flight
// more), the upload completes on B and downloads byte-identical from C.
func TestUploadSurvivesKilledReplica(t *testing.T) {
	t.Parallel()
	c := setUpFiles(t, "killed")
	const size, chunk, killAfter = 4 << 20, 256 << 10, 6
	content, sum := testserver.RandomContent(size)
	st := c.create(t, 0, "four.bin", content, sum)

	var (
		mu    sync.Mutex
		acked int64 // the offset after the last acknowledged chunk
		sent  int64 // the offset after the last chunk sent
	)
	enough := make(chan struct{})
	var sending sync.WaitGroup
	sending.Go(func() {
		for off := int64(0); off < size; off += chunk {
			mu.Lock()
			sent = off + chunk
			mu.Unlock()
			res, err := c.clients[0].UploadChunk(context.Background(), st.ID, off, content[off:off+chunk])
			if err != nil {
				return // A is gone
			}
			mu.Lock()
			acked = res.Offset
			mu.Unlock()
			if off/chunk+1 == killAfter {
				close(enough)
			}
		}
	})
	select {
	case <-enough:
	case <-time.After(timeBound(20 * time.Second)):
		t.Fatal("A did not acknowledge enough chunks")
	}
	c.replicas[0].kill()
	sending.Wait()

	mu.Lock()
	lastAcked, lastSent := acked, sent
	mu.Unlock()
	stood := c.wantAgree(t, st.ID, 1, 2)
	if stood.Offset < lastAcked || stood.Offset > lastSent || stood.File != nil {
		t.Fatalf("after SIGKILL of A the upload stands at %d; acknowledged up to %d, sent up to %d", stood.Offset, lastAcked, lastSent)
	}
	f, err := c.clients[1].Upload(t.Context(), st.ID, bytes.NewReader(content))
	if err != nil {
		t.Fatalf("Upload resumed on B: %v", err)
	}
	rate := c.download(t, 2, f.ID, content)
	t.Logf("A killed with %d bytes acknowledged (%d sent); B found %d and completed the upload; C served it at %.1f MiB/s",
		lastAcked, lastSent, stood.Offset, rate)
}

// TestUploadCompletesAfterTheLastChunk: when every byte of an upload is
// stored but the replica that stored the last chunk died before verifying
// it (here the chunks go straight into the database), GetUpload on another
// replica completes the upload, and the file downloads from a third.
func TestUploadCompletesAfterTheLastChunk(t *testing.T) {
	t.Parallel()
	c := setUpFiles(t, "unverified")
	content, sum := testserver.RandomContent(3<<20 + 5)
	st := c.create(t, 0, "three.bin", content, sum)
	store, err := postgres.Open(t.Context(), c.db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	blobs := postgres.NewBlobs(store)
	for off := 0; off < len(content); off += parley.MaxChunkBytes {
		if _, err := blobs.Append(st.ID, int64(off), content[off:min(off+parley.MaxChunkBytes, len(content))]); err != nil {
			t.Fatal(err)
		}
	}
	done := c.wantAgree(t, st.ID, 1, 2, 0)
	if done.File == nil || done.File.SHA256 != sum || done.Offset != int64(len(content)) {
		t.Fatalf("GetUpload with every byte stored = %+v, want the file complete", done)
	}
	c.download(t, 2, done.File.ID, content)
}
