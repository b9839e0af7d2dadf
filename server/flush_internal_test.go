package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

type countingFlusher struct {
	*httptest.ResponseRecorder
	flushes int
}

func (c *countingFlusher) Flush() { c.flushes++ }

func TestFlushHold(t *testing.T) {
	t.Parallel()
	newHold := func() (*flushHold, *countingFlusher) {
		cf := &countingFlusher{ResponseRecorder: httptest.NewRecorder()}
		return &flushHold{ResponseWriter: cf, flusher: cf}, cf
	}
	t.Run("LoneFlushGoesThrough", func(t *testing.T) {
		t.Parallel()
		fh, cf := newHold()
		fh.Flush()
		fh.Flush()
		if cf.flushes != 2 {
			t.Fatalf("flushes = %d, want 2", cf.flushes)
		}
	})
	t.Run("BurstFlushesOnceOnRelease", func(t *testing.T) {
		t.Parallel()
		fh, cf := newHold()
		fh.hold()
		for range 10 {
			fh.Flush()
		}
		if cf.flushes != 0 {
			t.Fatalf("flushes while held = %d, want 0", cf.flushes)
		}
		fh.release()
		if cf.flushes != 1 {
			t.Fatalf("flushes after release = %d, want 1", cf.flushes)
		}
		fh.hold()
		fh.release() // nothing skipped: nothing to flush
		if cf.flushes != 1 {
			t.Fatalf("empty hold flushed: %d", cf.flushes)
		}
	})
	t.Run("LongBurstFlushesEveryMaxHeld", func(t *testing.T) {
		t.Parallel()
		fh, cf := newHold()
		fh.hold()
		for range 3*(maxHeldMessages+1) + 5 {
			fh.Flush()
		}
		if cf.flushes != 3 {
			t.Fatalf("flushes = %d, want 3 (one per %d+1 held)", cf.flushes, maxHeldMessages)
		}
		fh.release()
		if cf.flushes != 4 {
			t.Fatalf("flushes after release = %d, want 4", cf.flushes)
		}
	})
	t.Run("NestedHoldsReleaseAtOutermost", func(t *testing.T) {
		t.Parallel()
		fh, cf := newHold()
		fh.hold()
		fh.Flush()
		fh.hold()
		fh.Flush()
		fh.release()
		if cf.flushes != 0 {
			t.Fatalf("inner release flushed: %d", cf.flushes)
		}
		fh.release()
		if cf.flushes != 1 {
			t.Fatalf("outer release: flushes = %d, want 1", cf.flushes)
		}
	})
	t.Run("NilHoldsNothing", func(t *testing.T) {
		t.Parallel()
		var fh *flushHold
		fh.hold()
		fh.release()
	})
	t.Run("OnlyStreamingProcedures", func(t *testing.T) {
		t.Parallel()
		var got []bool
		h := holdStreamFlushes(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, wrapped := w.(*flushHold)
			got = append(got, wrapped && flushHoldFrom(r.Context()) == w)
		}))
		for _, path := range []string{"/parley.v1.MessageService/Subscribe", "/parley.v1.MessageService/Chat", "/parley.v1.MessageService/SendMessage", "/parley.v1.FileService/Upload"} {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, path, nil))
		}
		if want := []bool{true, true, false, false}; len(got) != 4 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
			t.Fatalf("wrapped = %v, want %v", got, want)
		}
	})
}
