package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"connectrpc.com/connect"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
)

type fanoutResult struct {
	Subscribers, Messages     int
	Rate                      float64 // target events/s; 0 for the sequential publisher
	Senders                   int
	PublishedPerSec           float64 // achieved: messages over first send to last ack
	Deliveries                int64
	Seconds, DeliveriesPerSec float64
	P50, P99                  time.Duration
	BytesPerSub               float64 // heap + stack
	StackPerSub               float64 // of which goroutine stacks
	GoroutinesPerSub          float64
	ServerCPUPerDelivery      float64 // microseconds, server child
	LoaderCPUPerDelivery      float64 // microseconds, this process (subscribers + publisher)
	Load1                     float64
}

// fanoutScenario subscribes N streams (one user, many streams over a few
// h2c connections: 250 streams per connection, the production limit) to a
// room and publishes messages carrying their send time (see publisher).
func fanoutScenario(o options) ([]string, error) {
	sizes := []int{10, 100, 1000}
	if !o.quick {
		sizes = append(sizes, 10000)
	}
	if o.subs != "" {
		sizes = nil
		for _, f := range strings.Split(o.subs, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("-subs: bad size %q", f)
			}
			sizes = append(sizes, n)
		}
	}
	fmt.Printf("\n== fan-out on parley (Subscribe over h2c, SendMessage publisher: %s) ==\n", o.pub)
	fmt.Printf("%7s %6s %9s %10s %12s %9s %9s %10s %10s %10s %6s\n", "subs", "msgs", "pub/s", "deliveries", "deliv/s", "p50(ms)", "p99(ms)", "B/sub", "srv-us/dlv", "ldr-us/dlv", "load")
	var results []fanoutResult
	for _, n := range sizes {
		msgs := 200
		if o.quick {
			msgs = 30
		}
		if n >= 10000 {
			msgs = 50
		}
		if o.pub.msgs > 0 {
			msgs = o.pub.msgs
		}
		r, err := fanoutOnce(n, msgs, o.pub)
		if err != nil {
			return nil, fmt.Errorf("fan-out %d: %w", n, err)
		}
		results = append(results, r)
		fmt.Printf("%7d %6d %9.1f %10d %12.0f %9.2f %9.2f %10.0f %10.2f %10.2f %6.2f\n", r.Subscribers, r.Messages, r.PublishedPerSec, r.Deliveries, r.DeliveriesPerSec,
			ms(r.P50), ms(r.P99), r.BytesPerSub, r.ServerCPUPerDelivery, r.LoaderCPUPerDelivery, r.Load1)
	}
	if o.out != "" {
		rows := [][]string{{"subscribers", "messages", "target_rate", "senders", "published_per_s", "deliveries", "seconds", "deliveries_per_s", "p50_ms", "p99_ms", "server_bytes_per_idle_sub", "server_stack_bytes_per_idle_sub", "server_goroutines_per_sub", "server_cpu_us_per_delivery", "loader_cpu_us_per_delivery", "load1"}}
		for _, r := range results {
			rows = append(rows, []string{itoa(r.Subscribers), itoa(r.Messages), ftoa(r.Rate), itoa(r.Senders), ftoa(r.PublishedPerSec), strconv.FormatInt(r.Deliveries, 10), ftoa(r.Seconds), ftoa(r.DeliveriesPerSec),
				ftoa(ms(r.P50)), ftoa(ms(r.P99)), ftoa(r.BytesPerSub), ftoa(r.StackPerSub), ftoa(r.GoroutinesPerSub), ftoa(r.ServerCPUPerDelivery), ftoa(r.LoaderCPUPerDelivery), ftoa(r.Load1)})
		}
		if err := writeCSV(filepath.Join(o.out, "fanout.csv"), rows); err != nil {
			return nil, err
		}
	}
	var heads []string
	for _, r := range results {
		heads = append(heads, fmt.Sprintf("fan-out %5d subs, %6.1f events/s published: %8.0f deliveries/s, p99 %.1f ms, %.1f KiB/idle sub (%.1f KiB stack, %.2f goroutines), server %.1f us/delivery (targets @10k: >=500000/s, p99<100ms, <20 KiB)",
			r.Subscribers, r.PublishedPerSec, r.DeliveriesPerSec, ms(r.P99), r.BytesPerSub/1024, r.StackPerSub/1024, r.GoroutinesPerSub, r.ServerCPUPerDelivery))
	}
	return heads, nil
}

func fanoutOnce(n, msgs int, pub publisher) (fanoutResult, error) {
	c, err := startChild(peerParley)
	if err != nil {
		return fanoutResult{}, err
	}
	defer c.stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := newParleySession(ctx, c.addr, "fanout")
	if err != nil {
		return fanoutResult{}, err
	}
	room, err := s.createRoom(ctx, "fanout")
	if err != nil {
		return fanoutResult{}, err
	}
	heap0, stack0, g0, err := c.mem()
	if err != nil {
		return fanoutResult{}, err
	}

	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		lats      []time.Duration
		delivered atomic.Int64
		lastRecv  atomic.Int64
		warm      sync.WaitGroup
		failed    atomic.Value
	)
	warm.Add(n)
	for range n {
		wg.Go(func() {
			stream, err := s.messages.Subscribe(ctx, connect.NewRequest(&parleyv1.SubscribeRequest{RoomId: room}))
			if err != nil {
				failed.CompareAndSwap(nil, err)
				warm.Done()
				return
			}
			defer func() { _ = stream.Close() }() // the measurement is over
			local := make([]time.Duration, 0, msgs)
			warmed := false
			for stream.Receive() {
				m := stream.Msg().GetMessage()
				if m == nil {
					continue
				}
				now := time.Now()
				text := m.GetText()
				if text == "warm" {
					if !warmed {
						warmed = true
						warm.Done()
					}
					continue
				}
				sent, _ := strconv.ParseInt(strings.TrimPrefix(strings.Fields(text)[0], "t="), 10, 64)
				local = append(local, now.Sub(time.Unix(0, sent)))
				delivered.Add(1)
				lastRecv.Store(now.UnixNano())
				if len(local) == msgs {
					break
				}
			}
			if err := stream.Err(); err != nil && ctx.Err() == nil {
				failed.CompareAndSwap(nil, err)
			}
			if !warmed {
				warm.Done()
			}
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		})
	}
	// One warm message reaches every subscriber: all streams are live.
	if _, err := s.send(ctx, room, "warm", "warm"); err != nil {
		return fanoutResult{}, err
	}
	warmDone := make(chan struct{})
	go func() { warm.Wait(); close(warmDone) }()
	select {
	case <-warmDone:
	case <-time.After(120 * time.Second):
		return fanoutResult{}, fmt.Errorf("subscribers not warm after 120s")
	}
	if e, ok := failed.Load().(error); ok {
		return fanoutResult{}, e
	}
	heap1, stack1, g1, err := c.mem()
	if err != nil {
		return fanoutResult{}, err
	}

	cpu0, _, err := c.stats()
	if err != nil {
		return fanoutResult{}, err
	}
	self0 := selfCPU()
	start := time.Now()
	published, err := pub.publish(ctx, s, room, msgs)
	if err != nil {
		return fanoutResult{}, err
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(120 * time.Second):
		cancel()
		<-done
	}
	if e, ok := failed.Load().(error); ok {
		return fanoutResult{}, e
	}
	self1 := selfCPU()
	cpu1, _, err := c.stats()
	if err != nil {
		return fanoutResult{}, err
	}
	elapsed := time.Duration(lastRecv.Load() - start.UnixNano())
	nd := float64(max(delivered.Load(), 1))
	slices.Sort(lats)
	return fanoutResult{
		Subscribers: n, Messages: msgs, Deliveries: delivered.Load(),
		Rate: pub.rate, Senders: pub.concurrency(),
		PublishedPerSec:  float64(msgs) / published.Seconds(),
		Seconds:          elapsed.Seconds(),
		DeliveriesPerSec: float64(delivered.Load()) / elapsed.Seconds(),
		P50:              quantile(lats, 0.5), P99: quantile(lats, 0.99),
		BytesPerSub:          (float64(heap1+stack1) - float64(heap0+stack0)) / float64(n),
		StackPerSub:          (float64(stack1) - float64(stack0)) / float64(n),
		GoroutinesPerSub:     (float64(g1) - float64(g0)) / float64(n),
		ServerCPUPerDelivery: float64(cpu1-cpu0) / nd,
		LoaderCPUPerDelivery: float64(self1-self0) / nd,
		Load1:                loadavg(),
	}, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// selfCPU is this process's user+system CPU time in microseconds.
func selfCPU() uint64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return uint64((ru.Utime.Nano() + ru.Stime.Nano()) / 1000) //nolint:gosec // CPU time used is never negative
}
