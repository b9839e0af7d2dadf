package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

type countingFlusher struct {
	*httptest.ResponseRecorder
	flushes int
}

func (c *countingFlusher) Flush() { c.flushes++ }

// wantFlushes fails the test unless cf was flushed n times by now (when).
func wantFlushes(t *testing.T, cf *countingFlusher, n int, when string) {
	t.Helper()
	if cf.flushes != n {
		t.Fatalf("flushes %s = %d, want %d", when, cf.flushes, n)
	}
}

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
		wantFlushes(t, cf, 2, "")
	})
	t.Run("BurstFlushesOnceOnRelease", func(t *testing.T) {
		t.Parallel()
		fh, cf := newHold()
		fh.hold()
		for range 10 {
			fh.Flush()
		}
		wantFlushes(t, cf, 0, "while held")
		fh.release()
		wantFlushes(t, cf, 1, "after release")
		fh.hold()
		fh.release() // nothing skipped: nothing to flush
		wantFlushes(t, cf, 1, "after an empty hold")
	})
	t.Run("LongBurstFlushesEveryMaxHeld", func(t *testing.T) {
		t.Parallel()
		fh, cf := newHold()
		fh.hold()
		for range 3*(maxHeldMessages+1) + 5 {
			fh.Flush()
		}
		wantFlushes(t, cf, 3, fmt.Sprintf("while held (one per %d+1)", maxHeldMessages))
		fh.release()
		wantFlushes(t, cf, 4, "after release")
	})
	t.Run("NestedHoldsReleaseAtOutermost", func(t *testing.T) {
		t.Parallel()
		fh, cf := newHold()
		fh.hold()
		fh.Flush()
		fh.hold()
		fh.Flush()
		fh.release()
		wantFlushes(t, cf, 0, "after the inner release")
		fh.release()
		wantFlushes(t, cf, 1, "after the outer release")
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
