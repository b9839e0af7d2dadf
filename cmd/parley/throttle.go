package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// parseRate parses "500k", "2m" or a plain number of bytes per second.
func parseRate(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	mult := int64(1)
	switch strings.ToLower(s[len(s)-1:]) {
	case "k":
		mult, s = 1<<10, s[:len(s)-1]
	case "m":
		mult, s = 1<<20, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("--limit-rate %q: want a positive number of bytes, e.g. 500k or 2m", s)
	}
	return n * mult, nil
}

// throttledReaderAt sleeps so that reading stays under rate bytes a second
// on average since start.
type throttledReaderAt struct {
	r     io.ReaderAt
	rate  int64
	start time.Time
	read  int64
}

func (t *throttledReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := t.r.ReadAt(p, off)
	t.read += int64(n)
	if due := time.Duration(float64(t.read) / float64(t.rate) * float64(time.Second)); due > time.Since(t.start) {
		time.Sleep(due - time.Since(t.start))
	}
	return n, err
}
