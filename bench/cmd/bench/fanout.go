package main

import (
	"cmp"
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
)

type fanoutResult struct {
	Peer                      string
	Round                     int
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
	ReadsPerDelivery          float64 // server read syscalls; -1 where unknown
	WritesPerDelivery         float64 // server write syscalls; -1 where unknown
	LoaderCPUPerDelivery      float64 // microseconds, this process (subscribers + publisher)
	Load1                     float64
}

// floorMinSubs is the smallest fan-out size at which the floors run beside
// Parley (so 1,000 in a quick run, 1,000 and 10,000 in a full one).
const floorMinSubs = 1000

// fanoutTarget is the ratio target of Parley's server CPU per delivery to
// a floor's (issue 19: within 1.15x the bare HTTP/2 handler).
var fanoutTarget = map[string]string{floorH2: "<= 1.15"}

// fanoutScenario subscribes N streams to a room and publishes messages
// carrying their send time (see publisher), on Parley (one user, many
// streams over a few h2c connections: 250 streams per connection, the
// production limit) and, from floorMinSubs subscribers, on each floor
// (fanout_peers.go), interleaved: every peer once per round, a fresh child
// per run, the order rotated each round.
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
	fmt.Printf("\n== fan-out (Parley: Subscribe over h2c, SendMessage publisher; floors from %d subscribers; publisher %s; %d rounds) ==\n", floorMinSubs, o.pub, o.rounds)
	fmt.Printf("%-5s %-16s %6s %5s %9s %10s %9s %8s %8s %7s %9s %7s %7s %9s %5s\n", "round", "peer", "subs", "msgs", "pub/s", "deliveries", "deliv/s", "p50(ms)", "p99(ms)", "B/sub",
		"srv-us/dl", "rd/dl", "wr/dl", "ldr-us/dl", "load")
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
		peers := fanoutPeers[:1]
		if n >= floorMinSubs {
			peers = fanoutPeers
		}
		for round := range o.rounds {
			for _, p := range rotated(peers, round) {
				r, err := fanoutOnce(p, n, msgs, o.pub)
				if err != nil {
					return nil, fmt.Errorf("fan-out %s %d: %w", p.name, n, err)
				}
				r.Round = round
				results = append(results, r)
				fmt.Printf("%-5d %-16s %6d %5d %9.1f %10d %9.0f %8.2f %8.2f %7.0f %9.2f %7.3f %7.3f %9.2f %5.2f\n", round, r.Peer, r.Subscribers, r.Messages, r.PublishedPerSec, r.Deliveries,
					r.DeliveriesPerSec, ms(r.P50), ms(r.P99), r.BytesPerSub, r.ServerCPUPerDelivery, r.ReadsPerDelivery, r.WritesPerDelivery, r.LoaderCPUPerDelivery, r.Load1)
			}
		}
	}
	if o.out != "" {
		rows := [][]string{{"round", "peer", "subscribers", "messages", "target_rate", "senders", "published_per_s", "deliveries", "seconds", "deliveries_per_s", "p50_ms", "p99_ms",
			"server_bytes_per_idle_sub", "server_stack_bytes_per_idle_sub", "server_goroutines_per_sub", "server_cpu_us_per_delivery", "server_reads_per_delivery", "server_writes_per_delivery",
			"loader_cpu_us_per_delivery", "load1"}}
		for _, r := range results {
			rows = append(rows, []string{itoa(r.Round), r.Peer, itoa(r.Subscribers), itoa(r.Messages), ftoa(r.Rate), itoa(r.Senders), ftoa(r.PublishedPerSec), strconv.FormatInt(r.Deliveries, 10),
				ftoa(r.Seconds), ftoa(r.DeliveriesPerSec), ftoa(ms(r.P50)), ftoa(ms(r.P99)), ftoa(r.BytesPerSub), ftoa(r.StackPerSub), ftoa(r.GoroutinesPerSub),
				ftoa(r.ServerCPUPerDelivery), ftoa(r.ReadsPerDelivery), ftoa(r.WritesPerDelivery), ftoa(r.LoaderCPUPerDelivery), ftoa(r.Load1)})
		}
		if err := writeCSV(filepath.Join(o.out, "fanout.csv"), rows); err != nil {
			return nil, err
		}
	}
	var heads []string
	ratioRows := [][]string{ratioHeader("subscribers")}
	for _, n := range sizes {
		byRound := map[string]map[int]fanoutResult{}
		for _, r := range results {
			if r.Subscribers == n {
				if byRound[r.Peer] == nil {
					byRound[r.Peer] = map[int]fanoutResult{}
				}
				byRound[r.Peer][r.Round] = r
			}
		}
		med := func(f func(fanoutResult) float64) float64 {
			var xs []float64
			for _, r := range byRound[peerParley] {
				xs = append(xs, f(r))
			}
			m, _, _ := medianMinMax(xs)
			return m
		}
		heads = append(heads, fmt.Sprintf("fan-out %5d subs, %6.1f events/s published: %8.0f deliveries/s, p99 %.1f ms, %.1f KiB/idle sub (%.1f KiB stack, %.2f goroutines), server %.1f us/delivery (medians; targets @10k: >=100000/s, p99<150ms, <=18 KiB)",
			n, med(func(r fanoutResult) float64 { return r.PublishedPerSec }), med(func(r fanoutResult) float64 { return r.DeliveriesPerSec }), med(func(r fanoutResult) float64 { return ms(r.P99) }),
			med(func(r fanoutResult) float64 { return r.BytesPerSub / 1024 }), med(func(r fanoutResult) float64 { return r.StackPerSub / 1024 }),
			med(func(r fanoutResult) float64 { return r.GoroutinesPerSub }), med(func(r fanoutResult) float64 { return r.ServerCPUPerDelivery })))
		for _, floor := range fanoutPeers[1:] {
			var ratios []float64
			for round, a := range byRound[peerParley] {
				if b, ok := byRound[floor.name][round]; ok {
					ratios = append(ratios, a.ServerCPUPerDelivery/b.ServerCPUPerDelivery)
				}
			}
			if len(ratios) == 0 {
				continue
			}
			target := cmp.Or(fanoutTarget[floor.name], "-")
			row, head := ratioRow(itoa(n), " subs", "fan-out server CPU/delivery parley / "+floor.name, "cpu", ratios, target)
			ratioRows, heads = append(ratioRows, row), append(heads, head)
		}
	}
	if o.out != "" && len(ratioRows) > 1 {
		if err := writeCSV(filepath.Join(o.out, "fanout_ratios.csv"), ratioRows); err != nil {
			return nil, err
		}
	}
	return heads, nil
}

// fanoutOnce measures one run on a fresh child of p: n subscribers, msgs
// messages.
func fanoutOnce(p fanoutPeer, n, msgs int, pub publisher) (fanoutResult, error) {
	c, err := startChild(p.child)
	if err != nil {
		return fanoutResult{}, err
	}
	defer c.stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	room, err := p.join(ctx, c)
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
		opening   = make(chan struct{}, fanoutOpening)
	)
	perConn := max(p.perConn, 1)
	for first := 0; first < n; first += perConn {
		k := min(perConn, n-first) // subscribers on this connection
		warm.Add(1)
		wg.Go(func() {
			opening <- struct{}{}
			src, err := room.subscribe(ctx, k)
			<-opening
			if err != nil {
				failed.CompareAndSwap(nil, err)
				warm.Done()
				return
			}
			defer src.close()
			local := make([]time.Duration, 0, msgs*k)
			warmed := false
			for {
				text, err := src.next()
				if err != nil {
					if ctx.Err() == nil {
						failed.CompareAndSwap(nil, err)
					}
					break
				}
				now := time.Now()
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
				if len(local) == msgs*k {
					break
				}
			}
			if !warmed {
				warm.Done()
			}
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		})
	}
	// Every subscriber registered, then one warm message reaches all of
	// them: all streams are live.
	readyCtx, readyCancel := context.WithTimeout(ctx, 120*time.Second)
	defer readyCancel()
	if room.ready != nil {
		if err := room.ready(readyCtx, n); err != nil {
			return fanoutResult{}, cmp.Or(failedErr(&failed), err)
		}
	}
	if err := room.send(ctx, "warm", "warm"); err != nil {
		return fanoutResult{}, err
	}
	warmDone := make(chan struct{})
	go func() { warm.Wait(); close(warmDone) }()
	select {
	case <-warmDone:
	case <-readyCtx.Done():
		return fanoutResult{}, fmt.Errorf("subscribers not warm after 120s")
	}
	if err := failedErr(&failed); err != nil {
		return fanoutResult{}, err
	}
	heap1, stack1, g1, err := c.mem()
	if err != nil {
		return fanoutResult{}, err
	}

	var published time.Duration
	self0 := selfCPU()
	start := time.Now()
	used, err := c.measure(func() (err error) {
		if published, err = pub.publish(ctx, room.send, msgs); err != nil {
			return err
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(120 * time.Second):
			cancel()
			<-done
		}
		return failedErr(&failed)
	})
	if err != nil {
		return fanoutResult{}, err
	}
	self1 := selfCPU()
	elapsed := time.Duration(lastRecv.Load() - start.UnixNano())
	nd := max(delivered.Load(), 1)
	slices.Sort(lats)
	return fanoutResult{
		Peer: p.name, Subscribers: n, Messages: msgs, Deliveries: delivered.Load(),
		Rate: pub.rate, Senders: pub.concurrency(),
		PublishedPerSec:  float64(msgs) / published.Seconds(),
		Seconds:          elapsed.Seconds(),
		DeliveriesPerSec: float64(delivered.Load()) / elapsed.Seconds(),
		P50:              quantile(lats, 0.5), P99: quantile(lats, 0.99),
		BytesPerSub:          (float64(heap1+stack1) - float64(heap0+stack0)) / float64(n),
		StackPerSub:          (float64(stack1) - float64(stack0)) / float64(n),
		GoroutinesPerSub:     (float64(g1) - float64(g0)) / float64(n),
		ServerCPUPerDelivery: used.cpuPer(nd),
		ReadsPerDelivery:     used.readsPer(nd),
		WritesPerDelivery:    used.writesPer(nd),
		LoaderCPUPerDelivery: float64(self1-self0) / float64(nd),
		Load1:                loadavg(),
	}, nil
}

// fanoutOpening is how many subscribers may be opening their connection
// or stream at once: enough to open 10,000 in seconds, few enough not to
// overflow the listener's accept queue.
const fanoutOpening = 64

// failedErr is the error a subscriber stored in failed, or nil.
func failedErr(failed *atomic.Value) error {
	if e, ok := failed.Load().(error); ok {
		return e
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// selfCPU is this process's user+system CPU time in microseconds.
func selfCPU() uint64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return uint64((ru.Utime.Nano() + ru.Stime.Nano()) / 1000) //nolint:gosec // CPU time used is never negative
}
