package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/parley-chat/parley"
)

// noticeHandler shows the client library's log records (reconnects) as
// one short line each, "parley: MESSAGE (ERR)", and holds back a repeat of
// the same message for quiet, so an outage reads as one line, not one per
// attempt.
type noticeHandler struct {
	w     io.Writer
	quiet time.Duration

	mu   *sync.Mutex
	last map[string]time.Time
}

func newNoticeLogger(w io.Writer) *slog.Logger {
	return slog.New(&noticeHandler{w: w, quiet: 30 * time.Second, mu: new(sync.Mutex), last: map[string]time.Time{}})
}

func (h *noticeHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h *noticeHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t, ok := h.last[r.Message]; ok && r.Time.Sub(t) < h.quiet {
		return nil
	}
	h.last[r.Message] = r.Time
	var cause string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "err" {
			return true
		}
		cause = a.Value.String()
		var perr *parley.Error
		if err, ok := a.Value.Any().(error); ok && errors.As(err, &perr) {
			cause = perr.Message
		}
		cause = " (" + cause + ")"
		return true
	})
	_, err := fmt.Fprintf(h.w, "parley: %s%s\n", r.Message, cause)
	return err
}

func (h *noticeHandler) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h *noticeHandler) WithGroup(string) slog.Handler { return h }
