package server

import (
	"time"

	"github.com/parley-chat/parley"
)

// What a Chat stream's client may send, counted after decompression
// (streamBytes): a burst of chatBurstBytes, then chatBytesPerSecond. A
// chat frame is small (a message is at most 4,000 characters), so a
// client that sends more is flooding, or inflating compressed frames the
// per-message limit lets through one by one; its stream ends with
// resource_exhausted.
const (
	chatBurstBytes     = 1 << 20
	chatBytesPerSecond = 64 << 10
)

var errChatTooManyBytes = parley.Errorf(parley.ETOOLARGE,
	"chat stream sent more than %d KiB at once or %d KiB/s after decompression; reconnect and join again from the positions given",
	chatBurstBytes>>10, chatBytesPerSecond>>10)

// byteBucket is a token bucket of bytes: it holds up to burst, refilled at
// rate per second.
type byteBucket struct {
	burst, rate float64
	tokens      float64
	last        time.Time
}

func newByteBucket(burst, rate int64, now time.Time) *byteBucket {
	return &byteBucket{burst: float64(burst), rate: float64(rate), tokens: float64(burst), last: now}
}

// take takes n bytes at now and reports whether there were enough.
func (b *byteBucket) take(now time.Time, n int64) bool {
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = min(b.burst, b.tokens+elapsed*b.rate)
		b.last = now
	}
	b.tokens -= float64(n)
	return b.tokens >= 0
}
