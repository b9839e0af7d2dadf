package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

// FileEngine is what the expiry suite runs against: a Store for users and
// rooms, the FileStore keeping their uploads (often the same value) and
// the BlobStore keeping the uploads' contents.
type FileEngine struct {
	Store parley.Store
	Files parley.FileStore
	Blobs parley.BlobStore
}

// RunExpiry runs the suite of parley.ExpireUploads over the engine that
// open returns: abandoned uploads go with their bytes, and nothing else
// does. Subtests run in parallel and each calls open once, so open must
// return a new, empty engine each time and clean it up with t.Cleanup.
//
// The suite controls the clock through createdBefore, which it sets
// relative to the create times the engine stamped: an upload is as old as
// the suite says.
func RunExpiry(t *testing.T, open func(t *testing.T) FileEngine) {
	runEach(t, expiryTests, open)
}

// expiryTest is one subtest of the expiry suite.
type expiryTest = suiteTest[FileEngine]

// expire runs ExpireUploads with no lock, or fails the test.
func expire(t *testing.T, e FileEngine, createdBefore time.Time) parley.ExpiredUploads {
	t.Helper()
	got, err := parley.ExpireUploads(t.Context(), e.Files, e.Blobs, createdBefore, nil)
	if err != nil {
		t.Fatalf("ExpireUploads: %v (after %+v)", err, got)
	}
	return got
}

// wantGone fails the test unless the upload and its bytes are gone.
func wantGone(t *testing.T, e FileEngine, up parley.Upload) {
	t.Helper()
	_, err := e.Files.UploadByID(t.Context(), up.ID)
	wantCode(t, err, parley.ENOTFOUND)
	wantSize(t, e.Blobs, up.ID, 0)
	_, err = e.Blobs.Open(up.Meta.SHA256) // never committed, nor stored by the expiry
	wantCode(t, err, parley.ENOTFOUND)
}

// wantUnfinished fails the test unless the upload is there, not complete,
// with size bytes of content.
func wantUnfinished(t *testing.T, e FileEngine, up parley.Upload, size int64) {
	t.Helper()
	got, err := e.Files.UploadByID(t.Context(), up.ID)
	if err != nil || got.FileID != "" {
		t.Fatalf("UploadByID(%s) = %+v, %v; want it unfinished", up.ID, got, err)
	}
	wantSize(t, e.Blobs, up.ID, size)
}

// staleAndFresh stores n uploads of 10 bytes, each with sent bytes of
// content, and then one created after them all, with none.
func staleAndFresh(t *testing.T, e FileEngine, n, sent int) (stale []parley.Upload, fresh parley.Upload) {
	t.Helper()
	alice := CreateUser(t, e.Store, "alice")
	r := CreateRoom(t, e.Store, "general", parley.Public, alice)
	meta := uploadIn(r, "x.bin", blobContent(10))
	for range n {
		up, err := e.Files.CreateUpload(t.Context(), alice.ID, meta)
		if err != nil {
			t.Fatalf("CreateUpload: %v", err)
		}
		appendAll(t, e.Blobs, up.ID, blobContent(sent), sent)
		stale = append(stale, up)
	}
	return stale, createUploadAfter(t, e.Files, stale[len(stale)-1], alice, meta)
}

var expiryTests = []expiryTest{
	{"ReclaimsAbandoned", func(t *testing.T, e FileEngine) {
		alice := CreateUser(t, e.Store, "alice")
		r := CreateRoom(t, e.Store, "general", parley.Public, alice)
		whole := blobContent(3000) // every byte sent, but not verified (a crash before Commit)
		half := blobContent(5000)
		doneContent := []byte("a finished file")
		metas := []parley.UploadMeta{uploadIn(r, "whole.bin", whole), uploadIn(r, "half.bin", half),
			uploadIn(r, "empty.bin", []byte("never sent")), uploadIn(r, "done.txt", doneContent),
			uploadIn(r, "fresh.bin", half)}
		var ups []parley.Upload
		for _, m := range metas {
			ups = append(ups, createUploadAfter(t, e.Files, lastUpload(ups), alice, m))
		}
		appendAll(t, e.Blobs, ups[0].ID, whole, 1024)
		appendAll(t, e.Blobs, ups[1].ID, half[:2500], 1024)
		appendAll(t, e.Blobs, ups[3].ID, doneContent, 1024)
		if err := e.Blobs.Commit(ups[3].ID, sha256Hex(doneContent)); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		file, err := e.Files.CompleteUpload(t.Context(), ups[3].ID)
		if err != nil {
			t.Fatalf("CompleteUpload: %v", err)
		}
		appendAll(t, e.Blobs, ups[4].ID, half[:1000], 1000)

		// The clock is at the fresh upload's creation plus the expiry: the
		// ones before it expired.
		got := expire(t, e, ups[4].CreateTime)
		if want := (parley.ExpiredUploads{Uploads: 3, Bytes: 3000 + 2500}); got != want {
			t.Errorf("ExpireUploads = %+v, want %+v", got, want)
		}
		for _, up := range ups[:3] {
			wantGone(t, e, up)
		}
		if got, err := e.Files.UploadByID(t.Context(), ups[3].ID); err != nil || got.FileID != file.ID {
			t.Errorf("completed upload after expiry: %+v, %v; want it linked to %s", got, err, file.ID)
		}
		if got, err := e.Files.FileByID(t.Context(), file.ID); err != nil || !sameFile(got, file) {
			t.Errorf("FileByID after expiry = %+v, %v; want %+v", got, err, file)
		}
		wantContent(t, e.Blobs, file.SHA256, doneContent)
		wantUnfinished(t, e, ups[4], 1000)
		wantStoredBytes(t, e.Files, alice, file.Size+ups[4].Meta.Size)
		// The fresh upload goes on and completes.
		if size, err := e.Blobs.Append(ups[4].ID, 1000, half[1000:]); err != nil || size != int64(len(half)) {
			t.Fatalf("Append to the fresh upload = %d, %v; want %d", size, err, len(half))
		}
		if err := e.Blobs.Commit(ups[4].ID, sha256Hex(half)); err != nil {
			t.Fatalf("Commit of the fresh upload: %v", err)
		}
		if _, err := e.Files.CompleteUpload(t.Context(), ups[4].ID); err != nil {
			t.Fatalf("CompleteUpload of the fresh upload: %v", err)
		}
	}},
	{"NothingStale", func(t *testing.T, e FileEngine) {
		alice := CreateUser(t, e.Store, "alice")
		r := CreateRoom(t, e.Store, "general", parley.Public, alice)
		up := createUploadAfter(t, e.Files, parley.Upload{}, alice, uploadIn(r, "fresh.bin", blobContent(10)))
		appendAll(t, e.Blobs, up.ID, blobContent(10)[:4], 4)
		if got := expire(t, e, up.CreateTime); got != (parley.ExpiredUploads{}) {
			t.Errorf("ExpireUploads = %+v, want nothing", got)
		}
		wantUnfinished(t, e, up, 4)
	}},
	{"InBatches", func(t *testing.T, e FileEngine) {
		// More than one batch of 100: every stale upload goes, the newest
		// stays.
		stale, fresh := staleAndFresh(t, e, 250, 3)
		if got, want := expire(t, e, fresh.CreateTime), (parley.ExpiredUploads{Uploads: 250, Bytes: 750}); got != want {
			t.Errorf("ExpireUploads = %+v, want %+v", got, want)
		}
		for _, up := range stale {
			wantGone(t, e, up)
		}
		wantUnfinished(t, e, fresh, 0)
	}},
	{"AfterCrashBetweenSteps", func(t *testing.T, e FileEngine) {
		// A crash after discarding the content and before deleting the
		// upload: the next run finds the upload and deletes it.
		alice := CreateUser(t, e.Store, "alice")
		r := CreateRoom(t, e.Store, "general", parley.Public, alice)
		meta := uploadIn(r, "x.bin", blobContent(10))
		ups := []parley.Upload{createUploadAfter(t, e.Files, parley.Upload{}, alice, meta)}
		ups = append(ups, createUploadAfter(t, e.Files, ups[0], alice, meta))
		appendAll(t, e.Blobs, ups[0].ID, blobContent(10)[:6], 6)
		if err := e.Blobs.Discard(ups[0].ID); err != nil {
			t.Fatalf("Discard: %v", err)
		}
		if got, want := expire(t, e, ups[1].CreateTime), (parley.ExpiredUploads{Uploads: 1}); got != want {
			t.Errorf("ExpireUploads = %+v, want %+v", got, want)
		}
		wantGone(t, e, ups[0])
		wantUnfinished(t, e, ups[1], 0)
	}},
	{"ConcurrentRuns", func(t *testing.T, e FileEngine) {
		// Replicas sweeping at once: no error, every stale upload gone once.
		stale, fresh := staleAndFresh(t, e, 30, 2)
		var (
			wg    sync.WaitGroup
			total [3]parley.ExpiredUploads
			errs  [3]error
		)
		for i := range total {
			wg.Go(func() { total[i], errs[i] = parley.ExpireUploads(t.Context(), e.Files, e.Blobs, fresh.CreateTime, nil) })
		}
		wg.Wait()
		n := 0
		for i := range total {
			if errs[i] != nil {
				t.Errorf("ExpireUploads %d: %v", i, errs[i])
			}
			n += total[i].Uploads
		}
		if n < len(stale) {
			t.Errorf("the runs expired %d uploads in all, want at least %d", n, len(stale))
		}
		for _, up := range stale {
			wantGone(t, e, up)
		}
		wantUnfinished(t, e, fresh, 0)
	}},
}
