package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

// fileStore is an engine that keeps file metadata besides everything else.
type fileStore interface {
	parley.Store
	parley.FileStore
}

// fileTest is one subtest of the FileStore group.
type fileTest = suiteTest[fileStore]

// runFiles runs the FileStore group, or skips it once when the engine does
// not implement parley.FileStore.
func runFiles(t *testing.T, open func(t *testing.T) parley.Store) {
	if _, ok := open(t).(parley.FileStore); !ok {
		t.Skip("the engine keeps no file metadata (parley.FileStore)")
	}
	runEach(t, fileTests, func(t *testing.T) fileStore { return open(t).(fileStore) })
}

// uploadIn returns metadata for a file of content in room r.
func uploadIn(r parley.Room, name string, content []byte) parley.UploadMeta {
	return parley.UploadMeta{RoomID: r.ID, Name: name, ContentType: "text/plain", Size: int64(len(content)), SHA256: sha256Hex(content)}
}

// createUpload stores an upload or fails the test.
func createUpload(t *testing.T, s fileStore, uploader parley.User, meta parley.UploadMeta) parley.Upload {
	t.Helper()
	up, err := s.CreateUpload(t.Context(), uploader.ID, meta)
	if err != nil {
		t.Fatalf("CreateUpload(%q): %v", meta.Name, err)
	}
	return up
}

// completeUpload completes an upload or fails the test.
func completeUpload(t *testing.T, s fileStore, up parley.Upload) parley.File {
	t.Helper()
	f, err := s.CompleteUpload(t.Context(), up.ID)
	if err != nil {
		t.Fatalf("CompleteUpload(%s): %v", up.ID, err)
	}
	return f
}

// fileSetUp is a user, a room of theirs and an upload in it.
func fileSetUp(t *testing.T, s fileStore) (parley.User, parley.Room, parley.Upload) {
	t.Helper()
	alice := CreateUser(t, s, "alice")
	r := CreateRoom(t, s, "general", parley.Public, alice)
	return alice, r, createUpload(t, s, alice, uploadIn(r, "notes.txt", []byte("hello, files")))
}

// createUploadAfter stores an upload of meta by uploader with a later
// create time than prev's (any, for the zero prev), or fails the test. The
// engine stamps uploads from its own clock, so this waits for the clock to
// move on if need be.
func createUploadAfter(t *testing.T, s parley.FileStore, prev parley.Upload, uploader parley.User, meta parley.UploadMeta) parley.Upload {
	t.Helper()
	for {
		up, err := s.CreateUpload(t.Context(), uploader.ID, meta)
		if err != nil {
			t.Fatalf("CreateUpload: %v", err)
		}
		if up.CreateTime.After(prev.CreateTime) {
			return up
		}
		if err := s.DeleteUpload(t.Context(), up.ID); err != nil {
			t.Fatalf("DeleteUpload: %v", err)
		}
		time.Sleep(time.Millisecond) // not a timing assertion: only an order of stamps
	}
}

// wantStale fails the test unless StaleUploads(createdBefore, limit)
// returns want, in that order.
func wantStale(t *testing.T, s parley.FileStore, createdBefore time.Time, limit int, want ...parley.Upload) {
	t.Helper()
	got, err := s.StaleUploads(t.Context(), createdBefore, limit)
	if err != nil {
		t.Fatalf("StaleUploads: %v", err)
	}
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = sameUpload(got[i], want[i])
	}
	if !ok {
		t.Fatalf("StaleUploads(%v, %d) = %s, want %s", createdBefore, limit, uploadIDs(got), uploadIDs(want))
	}
}

// lastUpload is the last of ups, or the zero Upload.
func lastUpload(ups []parley.Upload) parley.Upload {
	if len(ups) == 0 {
		return parley.Upload{}
	}
	return ups[len(ups)-1]
}

func uploadIDs(ups []parley.Upload) []string {
	ids := make([]string, len(ups))
	for i, up := range ups {
		ids[i] = up.ID
	}
	return ids
}

// wantStoredBytes fails the test unless StoredBytes(u) is n.
func wantStoredBytes(t *testing.T, s parley.FileStore, u parley.User, n int64) {
	t.Helper()
	if got, err := s.StoredBytes(t.Context(), u.ID); err != nil || got != n {
		t.Fatalf("StoredBytes(%s) = %d, %v; want %d", u.Username, got, err, n)
	}
}

func sameUpload(a, b parley.Upload) bool {
	return a.ID == b.ID && a.UploaderID == b.UploaderID && a.Meta == b.Meta &&
		a.CreateTime.Equal(b.CreateTime) && a.FileID == b.FileID
}

func sameFile(a, b parley.File) bool {
	return a.ID == b.ID && a.RoomID == b.RoomID && a.Name == b.Name && a.ContentType == b.ContentType &&
		a.Size == b.Size && a.SHA256 == b.SHA256 && sameUser(a.Uploader, b.Uploader) && a.CreateTime.Equal(b.CreateTime)
}

func sameFiles(a, b []parley.File) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameFile(a[i], b[i]) {
			return false
		}
	}
	return true
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

var fileTests = []fileTest{
	{"CreateUploadOK", func(t *testing.T, s fileStore) {
		alice := CreateUser(t, s, "alice")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		meta := uploadIn(r, "notes.txt", []byte("hello, files"))
		up, err := s.CreateUpload(t.Context(), alice.ID, meta)
		if err != nil {
			t.Fatalf("CreateUpload: %v", err)
		}
		if up.ID == "" || up.UploaderID != alice.ID || up.Meta != meta || up.CreateTime.IsZero() || up.FileID != "" {
			t.Fatalf("CreateUpload = %+v, want an id, alice, the metadata, a create time and no file", up)
		}
		got, err := s.UploadByID(t.Context(), up.ID)
		wantSame(t, "UploadByID", got, err, up, sameUpload)
	}},
	{"CreateUploadDistinctIDs", func(t *testing.T, s fileStore) {
		alice := CreateUser(t, s, "alice")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		meta := uploadIn(r, "notes.txt", []byte("hello, files"))
		if a, b := createUpload(t, s, alice, meta), createUpload(t, s, alice, meta); a.ID == b.ID {
			t.Errorf("two uploads of the same metadata share id %q", a.ID)
		}
	}},
	{"CreateUploadKeepsLimits", func(t *testing.T, s fileStore) {
		// The store keeps metadata at the domain's limits exactly; checking
		// them is the caller's job (ValidateUploadMeta, the server's size
		// limit), so a size far beyond DefaultMaxFileBytes is stored too.
		alice := CreateUser(t, s, "alice")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		meta := parley.UploadMeta{
			RoomID:      r.ID,
			Name:        strings.Repeat("é", parley.FileNameMaxLen/2) + "x", // 255 bytes
			ContentType: "application/" + strings.Repeat("x", 255-len("application/")),
			Size:        5 << 30,
			SHA256:      sha256Hex(nil),
		}
		up := createUpload(t, s, alice, meta)
		got, err := s.UploadByID(t.Context(), up.ID)
		if err != nil {
			t.Fatalf("UploadByID: %v", err)
		}
		if got.Meta != meta {
			t.Fatalf("UploadByID metadata = %+v, want %+v", got.Meta, meta)
		}
		f := completeUpload(t, s, up)
		if f.Name != meta.Name || f.ContentType != meta.ContentType || f.Size != meta.Size {
			t.Errorf("CompleteUpload = %+v, want the metadata %+v", f, meta)
		}
	}},
	{"CreateUploadErrRoomNotFound", func(t *testing.T, s fileStore) {
		alice := CreateUser(t, s, "alice")
		_, err := s.CreateUpload(t.Context(), alice.ID, uploadIn(parley.Room{ID: "r_missing"}, "x.txt", []byte("x")))
		wantCode(t, err, parley.ENOTFOUND)
	}},
	{"CreateUploadErrUploaderNotFound", func(t *testing.T, s fileStore) {
		alice := CreateUser(t, s, "alice")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		_, err := s.CreateUpload(t.Context(), "u_missing", uploadIn(r, "x.txt", []byte("x")))
		wantCode(t, err, parley.ENOTFOUND)
	}},
	{"UploadErrNotFound", func(t *testing.T, s fileStore) {
		_, err := s.UploadByID(t.Context(), "up_missing")
		wantCode(t, err, parley.ENOTFOUND)
	}},
	{"CompleteOK", func(t *testing.T, s fileStore) {
		alice, r, up := fileSetUp(t, s)
		f, err := s.CompleteUpload(t.Context(), up.ID)
		if err != nil {
			t.Fatalf("CompleteUpload: %v", err)
		}
		if f.ID == "" || f.RoomID != r.ID || f.Name != up.Meta.Name || f.ContentType != up.Meta.ContentType ||
			f.Size != up.Meta.Size || f.SHA256 != up.Meta.SHA256 || !sameUser(f.Uploader, alice) || f.CreateTime.IsZero() {
			t.Fatalf("CompleteUpload = %+v, want the upload's metadata, uploader alice and a create time", f)
		}
		linked, err := s.UploadByID(t.Context(), up.ID)
		if err != nil {
			t.Fatalf("UploadByID: %v", err)
		}
		if linked.FileID != f.ID {
			t.Errorf("UploadByID FileID = %q, want %q", linked.FileID, f.ID)
		}
		got, err := s.FileByID(t.Context(), f.ID)
		wantSame(t, "FileByID", got, err, f, sameFile)
	}},
	{"CompleteTwiceReturnsTheFile", func(t *testing.T, s fileStore) {
		_, _, up := fileSetUp(t, s)
		first := completeUpload(t, s, up)
		again, err := s.CompleteUpload(t.Context(), up.ID)
		if err != nil {
			t.Fatalf("second CompleteUpload: %v", err)
		}
		if !sameFile(again, first) {
			t.Errorf("second CompleteUpload = %+v, want the first file %+v", again, first)
		}
	}},
	{"CompleteConcurrentOnce", func(t *testing.T, s fileStore) {
		_, _, up := fileSetUp(t, s)
		const n = 8
		var (
			wg    sync.WaitGroup
			files [n]parley.File
			errs  [n]error
		)
		for i := range n {
			wg.Go(func() { files[i], errs[i] = s.CompleteUpload(t.Context(), up.ID) })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("CompleteUpload %d: %v", i, errs[i])
			}
			if !sameFile(files[i], files[0]) {
				t.Errorf("CompleteUpload %d = %+v, want the same file as the others, %+v", i, files[i], files[0])
			}
		}
	}},
	{"CompleteSameContentDistinctFiles", func(t *testing.T, s fileStore) {
		alice := CreateUser(t, s, "alice")
		a := CreateRoom(t, s, "a", parley.Public, alice)
		b := CreateRoom(t, s, "b", parley.Public, alice)
		content := []byte("shared content")
		fa := completeUpload(t, s, createUpload(t, s, alice, uploadIn(a, "one.txt", content)))
		fb := completeUpload(t, s, createUpload(t, s, alice, uploadIn(b, "two.txt", content)))
		if fa.ID == fb.ID || fa.RoomID != a.ID || fb.RoomID != b.ID || fa.SHA256 != fb.SHA256 {
			t.Errorf("files %+v and %+v; want one per upload, each in its room, with the same hash", fa, fb)
		}
	}},
	{"CompleteErrNotFound", func(t *testing.T, s fileStore) {
		_, err := s.CompleteUpload(t.Context(), "up_missing")
		wantCode(t, err, parley.ENOTFOUND)
	}},
	{"DeleteOK", func(t *testing.T, s fileStore) {
		_, _, up := fileSetUp(t, s)
		if err := s.DeleteUpload(t.Context(), up.ID); err != nil {
			t.Fatalf("DeleteUpload: %v", err)
		}
		_, err := s.UploadByID(t.Context(), up.ID)
		wantCode(t, err, parley.ENOTFOUND)
		_, err = s.CompleteUpload(t.Context(), up.ID)
		wantCode(t, err, parley.ENOTFOUND)
	}},
	{"DeleteKeepsCompleted", func(t *testing.T, s fileStore) {
		_, _, up := fileSetUp(t, s)
		f := completeUpload(t, s, up)
		if err := s.DeleteUpload(t.Context(), up.ID); err != nil {
			t.Fatalf("DeleteUpload of a completed upload: %v", err)
		}
		if got, err := s.UploadByID(t.Context(), up.ID); err != nil || got.FileID != f.ID {
			t.Errorf("UploadByID after DeleteUpload = %+v, %v; want it still linked to %s", got, err, f.ID)
		}
		if got, err := s.FileByID(t.Context(), f.ID); err != nil || !sameFile(got, f) {
			t.Errorf("FileByID after DeleteUpload = %+v, %v; want %+v", got, err, f)
		}
	}},
	{"DeleteMissingOK", func(t *testing.T, s fileStore) {
		if err := s.DeleteUpload(t.Context(), "up_missing"); err != nil {
			t.Errorf("DeleteUpload of a missing upload: %v, want nil", err)
		}
	}},
	{"FileErrNotFound", func(t *testing.T, s fileStore) {
		_, _, up := fileSetUp(t, s)
		_, err := s.FileByID(t.Context(), "f_missing")
		wantCode(t, err, parley.ENOTFOUND)
		_, err = s.FileByID(t.Context(), up.ID) // an upload is not a file
		wantCode(t, err, parley.ENOTFOUND)
	}},
	{"StaleUploadsOldestFirst", func(t *testing.T, s fileStore) {
		alice := CreateUser(t, s, "alice")
		bob := CreateUser(t, s, "bob")
		r := CreateRoom(t, s, "general", parley.Public, alice)
		meta := uploadIn(r, "notes.txt", []byte("hello, files"))
		var ups []parley.Upload
		for _, u := range []parley.User{alice, bob, alice, bob} {
			ups = append(ups, createUploadAfter(t, s, lastUpload(ups), u, meta))
		}
		completeUpload(t, s, ups[1])
		// Relative to the stamps the engine set: createdBefore is exclusive.
		wantStale(t, s, ups[0].CreateTime, 10)
		wantStale(t, s, ups[3].CreateTime, 10, ups[0], ups[2])
		wantStale(t, s, ups[3].CreateTime.Add(time.Microsecond), 10, ups[0], ups[2], ups[3])
		wantStale(t, s, ups[3].CreateTime.Add(time.Microsecond), 2, ups[0], ups[2])
		if err := s.DeleteUpload(t.Context(), ups[0].ID); err != nil {
			t.Fatalf("DeleteUpload: %v", err)
		}
		wantStale(t, s, ups[3].CreateTime.Add(time.Microsecond), 1, ups[2])
	}},
	{"StoredBytesCountsFilesAndUnfinished", func(t *testing.T, s fileStore) {
		alice := CreateUser(t, s, "alice")
		bob := CreateUser(t, s, "bob")
		a := CreateRoom(t, s, "a", parley.Public, alice)
		b := CreateRoom(t, s, "b", parley.Public, alice)
		wantStoredBytes(t, s, alice, 0)
		completeUpload(t, s, createUpload(t, s, alice, uploadIn(a, "one.txt", []byte("twelve bytes"))))
		completeUpload(t, s, createUpload(t, s, alice, uploadIn(b, "two.txt", []byte("twelve bytes")))) // the same content counts again
		big := uploadIn(b, "big.bin", nil)
		big.Size = 5 << 30 // declared, none of it sent
		createUpload(t, s, alice, big)
		small := createUpload(t, s, alice, uploadIn(a, "three.txt", []byte("seven b")))
		createUpload(t, s, bob, uploadIn(a, "bob.txt", []byte("bob's bytes")))
		wantStoredBytes(t, s, alice, 12+12+5<<30+7)
		if err := s.DeleteUpload(t.Context(), small.ID); err != nil {
			t.Fatalf("DeleteUpload: %v", err)
		}
		wantStoredBytes(t, s, alice, 12+12+5<<30)
		wantStoredBytes(t, s, bob, 11)
		wantStoredBytes(t, s, parley.User{ID: "u_missing"}, 0)
	}},
	{"ErrCanceled", func(t *testing.T, s fileStore) {
		alice, r, up := fileSetUp(t, s)
		done := completeUpload(t, s, createUpload(t, s, alice, uploadIn(r, "done.txt", []byte("done"))))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		canceled := func(method string, err error) {
			t.Helper()
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s: got %v, want context.Canceled", method, err)
			}
		}
		_, err := s.CreateUpload(ctx, alice.ID, uploadIn(r, "x.txt", []byte("x")))
		canceled("CreateUpload", err)
		_, err = s.UploadByID(ctx, up.ID)
		canceled("UploadByID", err)
		_, err = s.CompleteUpload(ctx, up.ID)
		canceled("CompleteUpload", err)
		canceled("DeleteUpload", s.DeleteUpload(ctx, up.ID))
		_, err = s.FileByID(ctx, done.ID)
		canceled("FileByID", err)
		_, err = s.StaleUploads(ctx, up.CreateTime.Add(time.Hour), 10)
		canceled("StaleUploads", err)
		_, err = s.StoredBytes(ctx, alice.ID)
		canceled("StoredBytes", err)
		// Nothing happened, and the store is still usable.
		if got, err := s.UploadByID(t.Context(), up.ID); err != nil || got.FileID != "" {
			t.Errorf("after canceled calls, UploadByID = %+v, %v; want the upload, incomplete", got, err)
		}
	}},
}

// RunBlobs runs the parley.BlobStore suite against the store that open
// returns. Subtests run in parallel and each calls open once, so open must
// return a new, empty store each time and clean it up with t.Cleanup.
func RunBlobs(t *testing.T, open func(t *testing.T) parley.BlobStore) {
	runEach(t, blobTests, open)
}

// blobTest is one subtest of the BlobStore suite.
type blobTest = suiteTest[parley.BlobStore]

// Upload ids as a FileStore makes them.
const (
	blobUpload  = "up_blobtest1"
	blobUpload2 = "up_blobtest2"
)

// appendAll appends content to the upload in chunks of chunk bytes from
// offset 0, or fails the test.
func appendAll(t *testing.T, b parley.BlobStore, uploadID string, content []byte, chunk int) {
	t.Helper()
	var offset int64
	for len(content) > 0 {
		n := min(chunk, len(content))
		size, err := b.Append(uploadID, offset, content[:n])
		if err != nil {
			t.Fatalf("Append(%s, %d, %d bytes): %v", uploadID, offset, n, err)
		}
		if size != offset+int64(n) {
			t.Fatalf("Append(%s, %d, %d bytes) = size %d, want %d", uploadID, offset, n, size, offset+int64(n))
		}
		offset, content = size, content[n:]
	}
}

// wantSize fails the test unless the upload's partial content has size n.
func wantSize(t *testing.T, b parley.BlobStore, uploadID string, n int64) {
	t.Helper()
	if size, err := b.Size(uploadID); err != nil || size != n {
		t.Fatalf("Size(%s) = %d, %v; want %d", uploadID, size, err, n)
	}
}

// wantContent fails the test unless Open(sum) reads content, also from the
// middle after a Seek.
func wantContent(t *testing.T, b parley.BlobStore, sum string, content []byte) {
	t.Helper()
	r, err := b.Open(sum)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer func() { _ = r.Close() }() // read only
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("Open read %d bytes, %v; want the %d bytes committed", len(got), err, len(content))
	}
	mid := int64(len(content) / 2)
	if pos, err := r.Seek(mid, io.SeekStart); err != nil || pos != mid {
		t.Fatalf("Seek(%d) = %d, %v", mid, pos, err)
	}
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, content[mid:]) {
		t.Fatalf("read after Seek(%d): %d bytes, %v; want %d", mid, len(got), err, len(content)-int(mid))
	}
}

// blobContent is n bytes that are not all alike.
func blobContent(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7 / 3)
	}
	return b
}

var blobTests = []blobTest{
	{"AppendOK", func(t *testing.T, b parley.BlobStore) {
		wantSize(t, b, blobUpload, 0)
		appendAll(t, b, blobUpload, blobContent(1000), 300)
		wantSize(t, b, blobUpload, 1000)
	}},
	{"AppendMaxChunk", func(t *testing.T, b parley.BlobStore) {
		appendAll(t, b, blobUpload, blobContent(2*parley.MaxChunkBytes), parley.MaxChunkBytes)
		wantSize(t, b, blobUpload, 2*parley.MaxChunkBytes)
	}},
	{"AppendUploadsApart", func(t *testing.T, b parley.BlobStore) {
		appendAll(t, b, blobUpload, blobContent(10), 10)
		appendAll(t, b, blobUpload2, blobContent(3), 3)
		wantSize(t, b, blobUpload, 10)
		wantSize(t, b, blobUpload2, 3)
	}},
	{"AppendErrWrongOffset", func(t *testing.T, b parley.BlobStore) {
		_, err := b.Append(blobUpload, 5, []byte("early"))
		wantCode(t, err, parley.EPRECONDITION)
		wantSize(t, b, blobUpload, 0)
		appendAll(t, b, blobUpload, blobContent(10), 10)
		for _, offset := range []int64{0, 5, 9, 11, -1} {
			_, err := b.Append(blobUpload, offset, []byte("x"))
			wantCode(t, err, parley.EPRECONDITION)
		}
		wantSize(t, b, blobUpload, 10) // refused appends wrote nothing
	}},
	{"CommitOK", func(t *testing.T, b parley.BlobStore) {
		content := blobContent(5000)
		appendAll(t, b, blobUpload, content, 1024)
		if err := b.Commit(blobUpload, sha256Hex(content)); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		wantContent(t, b, sha256Hex(content), content)
		wantSize(t, b, blobUpload, 0) // stored in place of the partial content
	}},
	{"CommitSameContentTwice", func(t *testing.T, b parley.BlobStore) {
		content := blobContent(100)
		for _, id := range []string{blobUpload, blobUpload2} {
			appendAll(t, b, id, content, 64)
			if err := b.Commit(id, sha256Hex(content)); err != nil {
				t.Fatalf("Commit(%s): %v", id, err)
			}
			wantSize(t, b, id, 0)
		}
		wantContent(t, b, sha256Hex(content), content)
	}},
	{"CommitErrCorrupt", func(t *testing.T, b parley.BlobStore) {
		content := blobContent(100)
		appendAll(t, b, blobUpload, content, 100)
		wrong := sha256Hex([]byte("something else"))
		wantCode(t, b.Commit(blobUpload, wrong), parley.ECORRUPT)
		wantSize(t, b, blobUpload, 0) // the partial content is gone
		_, err := b.Open(wrong)
		wantCode(t, err, parley.ENOTFOUND)
		_, err = b.Open(sha256Hex(content))
		wantCode(t, err, parley.ENOTFOUND)
		appendAll(t, b, blobUpload, content, 100) // the upload may start over
	}},
	{"CommitErrNoContent", func(t *testing.T, b parley.BlobStore) {
		wantCode(t, b.Commit(blobUpload, sha256Hex(nil)), parley.ENOTFOUND)
		_, err := b.Open(sha256Hex(nil))
		wantCode(t, err, parley.ENOTFOUND)
	}},
	{"DiscardOK", func(t *testing.T, b parley.BlobStore) {
		appendAll(t, b, blobUpload, blobContent(100), 100)
		if err := b.Discard(blobUpload); err != nil {
			t.Fatalf("Discard: %v", err)
		}
		wantSize(t, b, blobUpload, 0)
		appendAll(t, b, blobUpload, blobContent(10), 10) // from offset 0 again
	}},
	{"DiscardMissingOK", func(t *testing.T, b parley.BlobStore) {
		if err := b.Discard(blobUpload); err != nil {
			t.Errorf("Discard of an upload with no content: %v, want nil", err)
		}
	}},
	{"DiscardKeepsCommitted", func(t *testing.T, b parley.BlobStore) {
		content := blobContent(100)
		appendAll(t, b, blobUpload, content, 100)
		if err := b.Commit(blobUpload, sha256Hex(content)); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if err := b.Discard(blobUpload); err != nil {
			t.Fatalf("Discard after Commit: %v", err)
		}
		wantContent(t, b, sha256Hex(content), content)
	}},
	{"OpenErrNotFound", func(t *testing.T, b parley.BlobStore) {
		for _, sum := range []string{sha256Hex([]byte("never stored")), "not a hash", ""} {
			_, err := b.Open(sum)
			wantCode(t, err, parley.ENOTFOUND)
		}
	}},
}
