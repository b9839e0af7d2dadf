package postgres_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/pgtest"
	"github.com/parley-chat/parley/internal/storetest"
	"github.com/parley-chat/parley/postgres"
)

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestStaleUploadsAndStoredBytes: StaleUploads lists the incomplete
// uploads created before a time, oldest first and up to a limit;
// StoredBytes adds a user's files to the announced sizes of their
// incomplete uploads.
func TestStaleUploadsAndStoredBytes(t *testing.T) {
	t.Parallel()
	_, u := pgtest.Schema(t, 2)
	start := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	var (
		mu  sync.Mutex
		now = start
	)
	s := open(t, u, postgres.WithNow(func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}))
	tick := func() {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Minute)
	}
	ctx := t.Context()
	alice, bob := storetest.CreateUser(t, s, "alice"), storetest.CreateUser(t, s, "bob")
	room := storetest.CreateRoom(t, s, "general", parley.Public, alice)
	create := func(uploader parley.User, size int64) parley.Upload {
		t.Helper()
		tick()
		up, err := s.CreateUpload(ctx, uploader.ID, parley.UploadMeta{RoomID: room.ID, Name: "f", Size: size, SHA256: sha256Hex(nil)})
		if err != nil {
			t.Fatal(err)
		}
		return up
	}
	a1 := create(alice, 100)
	done := create(alice, 1000)
	b1 := create(bob, 10)
	a2 := create(alice, 7)
	a3 := create(alice, 5) // created at the cut-off: not before it
	if _, err := s.CompleteUpload(ctx, done.ID); err != nil {
		t.Fatal(err)
	}

	ids := func(ups []parley.Upload) []string {
		var out []string
		for _, up := range ups {
			out = append(out, up.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		limit int
		want  []parley.Upload
	}{
		{"All", 10, []parley.Upload{a1, b1, a2}},
		{"Limit", 2, []parley.Upload{a1, b1}},
		{"ZeroLimit", 0, nil},
	} {
		got, err := s.StaleUploads(ctx, a3.CreateTime, tc.limit)
		if err != nil {
			t.Fatalf("%s: StaleUploads: %v", tc.name, err)
		}
		if g, w := ids(got), ids(tc.want); !slices.Equal(g, w) {
			t.Errorf("%s: StaleUploads = %v, want %v", tc.name, g, w)
		}
		for i := range got {
			if w := tc.want[i]; got[i].Meta != w.Meta || got[i].UploaderID != w.UploaderID || !got[i].CreateTime.Equal(w.CreateTime) || got[i].FileID != "" {
				t.Errorf("%s: StaleUploads[%d] = %+v, want %+v", tc.name, i, got[i], tc.want[i])
			}
		}
	}

	for _, tc := range []struct {
		user string
		want int64
	}{
		{alice.ID, 1000 + 100 + 7 + 5},
		{bob.ID, 10},
		{"u_nobody", 0},
	} {
		if got, err := s.StoredBytes(ctx, tc.user); err != nil || got != tc.want {
			t.Errorf("StoredBytes(%s) = %d, %v; want %d", tc.user, got, err, tc.want)
		}
	}
	if err := s.DeleteUpload(ctx, a1.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := s.StoredBytes(ctx, alice.ID); err != nil || got != 1000+7+5 {
		t.Errorf("StoredBytes after DeleteUpload = %d, %v; want %d", got, err, 1000+7+5)
	}
}

// TestBlobsAcrossReplicas appends one upload from two Stores on one
// database (two replicas) at once: at every offset exactly one Append
// wins and the other gets EPRECONDITION, so the content is each chunk once,
// in order, and reads back through either Store, also from mid-chunk
// positions after a Seek.
func TestBlobsAcrossReplicas(t *testing.T) {
	t.Parallel()
	_, u := pgtest.Schema(t, 8)
	replicas := []*postgres.Blobs{postgres.NewBlobs(open(t, u)), postgres.NewBlobs(open(t, u))}
	const chunks, chunkSize = 12, 10_000
	content := make([]byte, chunks*chunkSize)
	for i := range content {
		content[i] = byte(i * 31 / 7)
	}
	const id = "up_racedupload"
	var wins [2]int
	for off := 0; off < len(content); off += chunkSize {
		var (
			wg   sync.WaitGroup
			errs [2]error
		)
		for i, b := range replicas {
			wg.Go(func() { _, errs[i] = b.Append(id, int64(off), content[off:off+chunkSize]) })
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch parley.ErrorCodeOf(err) {
			case "":
				won++
				wins[i]++
			case parley.EPRECONDITION:
			default:
				t.Fatalf("Append at %d on replica %d: %v", off, i, err)
			}
		}
		if won != 1 {
			t.Fatalf("Append at %d: %d replicas won, want exactly 1 (%v)", off, won, errs)
		}
	}
	if size, err := replicas[1].Size(id); err != nil || size != int64(len(content)) {
		t.Fatalf("Size = %d, %v; want %d", size, err, len(content))
	}
	sum := sha256Hex(content)
	if err := replicas[0].Commit(id, sum); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	r, err := replicas[1].Open(sum)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r.Close()
	for _, pos := range []int64{0, chunkSize - 1, chunkSize, 5*chunkSize + 17, int64(len(content)) - 1, int64(len(content))} {
		if _, err := r.Seek(pos, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if _, err := io.CopyBuffer(&got, r, make([]byte, 3000)); err != nil || !bytes.Equal(got.Bytes(), content[pos:]) {
			t.Errorf("read from %d: %d bytes, %v; want the %d bytes from there", pos, got.Len(), err, int64(len(content))-pos)
		}
	}
	if end, err := r.Seek(0, io.SeekEnd); err != nil || end != int64(len(content)) {
		t.Errorf("Seek to the end = %d, %v; want %d", end, err, len(content))
	}
	t.Logf("%d chunks appended from two replicas at once; wins per replica %v", chunks, wins)
}
