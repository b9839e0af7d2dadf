package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

// BenchmarkCommitter measures the group committer's cost per message: one
// op is one message, committed in batches of the sub-benchmark's size to
// one room, as 20 concurrent senders to one room make them (the durable
// scenario of bench/ sees about 9 per commit). It calls commitBatch
// directly, on the benchmark's goroutine, so the figures are the
// committer's alone: cpu-ns/msg is the process's user and system CPU
// (getrusage, fsync included) per message. For instruction counts that do
// not depend on the machine's load, run it under bench/callgrind.sh.
func BenchmarkCommitter(b *testing.B) {
	for _, size := range []int{1, 9, 256} {
		b.Run(fmt.Sprintf("batch%d", size), func(b *testing.B) {
			ctx := context.Background()
			s, err := Open(ctx, filepath.Join(b.TempDir(), "parley.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = s.Close() }()
			var (
				u    parley.User
				room parley.Room
			)
			if u, err = s.CreateUser(ctx, "sender", []byte("hash")); err == nil {
				room, err = s.CreateRoom(ctx, "durable", parley.Public, u.ID)
			}
			if err != nil {
				b.Fatal(err)
			}
			publish := func(*parley.Message) {}
			batch := make([]*appendRequest, 0, size)
			start := cpuTime()
			b.ResetTimer()
			for n := 0; n < b.N; n += size {
				batch = batch[:0]
				for i := n; i < min(n+size, b.N); i++ {
					m := benchMessage(u, room.ID, fmt.Sprintf("c%d", i))
					batch = append(batch, &appendRequest{ctx: ctx, m: m, publish: publish, done: make(chan appendResult, 1)})
				}
				s.commitBatch(batch)
				for _, req := range batch {
					if r := <-req.done; r.err != nil || !r.created {
						b.Fatalf("append: created %v, %v", r.created, r.err)
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/msg")
		})
	}
}

// benchMessage is the message the server asks to store for a send.
func benchMessage(sender parley.User, roomID, clientMessageID string) parley.NewMessage {
	return parley.NewMessage{RoomID: roomID, SenderID: sender.ID, Sender: sender, Text: "durable message body", ClientMessageID: clientMessageID}
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
