package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// durableSenders is how many goroutines send to Parley at once.
const durableSenders = 20

// durablePerCommit are the floor's messages per commit: as many as
// Parley's senders (the most one of its group commits can hold in this
// closed loop), and Parley's batch limit (sqlite.maxAppendBatch). 0 is
// Parley itself.
var durablePerCommit = []int{0, durableSenders, 256}

type durableResult struct {
	Round      int
	Peer       string
	PerCommit  int // floor only; 0 for Parley's group commit
	Senders    int
	Seconds    float64
	Acks       int64
	AcksPerSec float64
	P50, P99   time.Duration // Parley: per SendMessage; floor: per commit
	CPUPerAck  float64       // server microseconds
	// ReadsPerAck and WritesPerAck are the server's read and write
	// syscalls per ack (fsync is neither); -1 where unknown.
	ReadsPerAck, WritesPerAck float64
	Load1                     float64
}

// durableScenario runs, in each round and rotated, durableSenders
// concurrent senders of SendMessage (closed loop, one room, one user)
// against Parley on SQLite, where an ack means the message is durably
// stored, and SQLite's own append floor (floor_sqlite.go) at each of
// durablePerCommit. Each cell runs 3 times -d.
func durableScenario(o options) ([]string, error) {
	d := 3 * o.dur
	children, stop, err := startChildren(peerParley, peerSQLiteAppend)
	if err != nil {
		return nil, err
	}
	defer stop()
	ctx := context.Background()
	s, err := newParleySession(ctx, children[peerParley].addr, "durable")
	if err != nil {
		return nil, err
	}
	room, err := s.createRoom(ctx, "durable")
	if err != nil {
		return nil, err
	}
	fmt.Printf("\n== durable appends on SQLite: SendMessage on parley (%d senders), SQLite's own append (%s), %v per cell, %d rounds ==\n", durableSenders, peerSQLiteAppend, d, o.rounds)
	fmt.Printf("%-5s %-14s %10s %9s %8s %8s %9s %7s %7s %5s\n", "round", "peer", "per-commit", "acks/s", "p50(ms)", "p99(ms)", "cpu-us/ack", "rd/ack", "wr/ack", "load")
	var results []durableResult
	for round := range o.rounds {
		for _, k := range rotated(durablePerCommit, round) {
			var r durableResult
			if k == 0 {
				r, err = durableParley(children[peerParley], s, room, d)
			} else {
				r, err = durableFloor(children[peerSQLiteAppend], k, d)
			}
			if err != nil {
				return nil, err
			}
			r.Round = round
			results = append(results, r)
			fmt.Printf("%-5d %-14s %10d %9.0f %8.2f %8.2f %9.1f %7.2f %7.2f %5.2f\n", round, r.Peer, r.PerCommit, r.AcksPerSec, ms(r.P50), ms(r.P99), r.CPUPerAck, r.ReadsPerAck, r.WritesPerAck, r.Load1)
		}
	}
	if o.out != "" {
		rows := [][]string{{"round", "peer", "per_commit", "senders", "seconds", "acks", "acks_per_s", "p50_ms", "p99_ms", "server_cpu_us_per_ack", "server_reads_per_ack", "server_writes_per_ack", "load1"}}
		for _, r := range results {
			rows = append(rows, []string{itoa(r.Round), r.Peer, itoa(r.PerCommit), itoa(r.Senders), ftoa(r.Seconds), itoa(int(r.Acks)), ftoa(r.AcksPerSec),
				ftoa(ms(r.P50)), ftoa(ms(r.P99)), ftoa(r.CPUPerAck), ftoa(r.ReadsPerAck), ftoa(r.WritesPerAck), ftoa(r.Load1)})
		}
		if err := writeCSV(filepath.Join(o.out, "durable.csv"), rows); err != nil {
			return nil, err
		}
	}
	byCell := map[int][]durableResult{} // per commit -> one result per round
	for _, r := range results {
		byCell[r.PerCommit] = append(byCell[r.PerCommit], r)
	}
	parley := byCell[0]
	median := func(f func(durableResult) float64) float64 {
		xs := make([]float64, len(parley))
		for i, r := range parley {
			xs[i] = f(r)
		}
		m, _, _ := medianMinMax(xs)
		return m
	}
	heads := []string{fmt.Sprintf("durable SendMessage, %d senders: %.0f acks/s, p99 %.1f ms, server %.0f us/ack (medians; target >=6000/s, p99<20ms)", durableSenders,
		median(func(r durableResult) float64 { return r.AcksPerSec }), median(func(r durableResult) float64 { return ms(r.P99) }), median(func(r durableResult) float64 { return r.CPUPerAck }))}
	ratioRows := [][]string{ratioHeader("senders")}
	for _, k := range durablePerCommit[1:] {
		floor := byCell[k]
		for _, m := range []struct {
			label, metric string
			value         func(durableResult) float64
		}{
			{"acks/s", "rps", func(r durableResult) float64 { return r.AcksPerSec }},
			{"server CPU/ack", "cpu", func(r durableResult) float64 { return r.CPUPerAck }},
		} {
			ratios := make([]float64, 0, len(parley))
			for i := range min(len(parley), len(floor)) { // both in round order
				ratios = append(ratios, m.value(parley[i])/m.value(floor[i]))
			}
			label := fmt.Sprintf("durable %s parley / %s, %d per commit", m.label, peerSQLiteAppend, k)
			row, head := ratioRow(itoa(durableSenders), " senders", label, m.metric, ratios, "-")
			ratioRows, heads = append(ratioRows, row), append(heads, head)
		}
	}
	if o.out != "" {
		if err := writeCSV(filepath.Join(o.out, "durable_ratios.csv"), ratioRows); err != nil {
			return nil, err
		}
	}
	return heads, nil
}

// durableParley sends for d with durableSenders goroutines.
func durableParley(c *child, s *parleySession, room string, d time.Duration) (durableResult, error) {
	ctx := context.Background()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		lats    []time.Duration
		errs    []error
		elapsed time.Duration
	)
	used, err := c.measure(func() error {
		start := time.Now()
		deadline := start.Add(d)
		for w := range durableSenders {
			wg.Go(func() {
				var local []time.Duration
				for i := 0; time.Now().Before(deadline); i++ {
					lat, err := s.send(ctx, room, "durable message body", fmt.Sprintf("w%d-%d-%d", w, start.UnixNano(), i))
					if err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
						return
					}
					local = append(local, lat)
				}
				mu.Lock()
				lats = append(lats, local...)
				mu.Unlock()
			})
		}
		wg.Wait()
		elapsed = time.Since(start)
		if len(errs) > 0 {
			return fmt.Errorf("durable send: %w", errs[0])
		}
		return nil
	})
	if err != nil {
		return durableResult{}, err
	}
	slices.Sort(lats)
	n := int64(len(lats))
	return durableResult{
		Peer: peerParley, Senders: durableSenders, Seconds: elapsed.Seconds(), Acks: n,
		AcksPerSec: float64(n) / elapsed.Seconds(),
		P50:        quantile(lats, 0.5), P99: quantile(lats, 0.99),
		CPUPerAck: used.cpuPer(n), ReadsPerAck: used.readsPer(n), WritesPerAck: used.writesPer(n),
		Load1: loadavg(),
	}, nil
}

// durableFloor appends for d, k messages per commit, on the floor child.
func durableFloor(c *child, k int, d time.Duration) (durableResult, error) {
	var (
		line    string
		elapsed time.Duration
	)
	used, err := c.measure(func() (err error) {
		start := time.Now()
		line, err = c.command(fmt.Sprintf("append %d %g", k, d.Seconds()), "APPENDED")
		elapsed = time.Since(start)
		return err
	})
	if err != nil {
		return durableResult{}, err
	}
	var n, commits, p50, p99 int64
	if _, err := fmt.Sscan(line, &n, &commits, &p50, &p99); err != nil {
		return durableResult{}, fmt.Errorf("%s: %q: %w", c.name, line, err)
	}
	return durableResult{
		Peer: peerSQLiteAppend, PerCommit: k, Seconds: elapsed.Seconds(), Acks: n,
		AcksPerSec: float64(n) / elapsed.Seconds(),
		P50:        time.Duration(p50) * time.Microsecond, P99: time.Duration(p99) * time.Microsecond,
		CPUPerAck: used.cpuPer(n), ReadsPerAck: used.readsPer(n), WritesPerAck: used.writesPer(n),
		Load1: loadavg(),
	}, nil
}
