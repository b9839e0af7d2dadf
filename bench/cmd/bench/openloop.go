package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Open-loop latency: requests arrive at a fixed rate whatever the server
// does, and each latency runs from the request's intended send time, so a
// stalled server is charged for every request it delayed (no coordinated
// omission). The rates are openLoopFractions of the reference peer's
// (grpc-go native) closed-loop peak, measured first with -c in flight, and
// are the same for every peer. Every peer is driven by the grpc-go client
// with tiny payloads. By default, 50% and 80% of peak, -d per cell after a
// warm-up of -d/5, -rounds rounds with the peer order rotated each round.
var openLoopFractions = []float64{0.5, 0.8}

// openLoopPeers are measured at the reference peer's rates; the first is
// the reference.
var openLoopPeers = []string{peerGRPCNative, peerParley, peerConnectMin}

// openLoopMaxOutstanding bounds requests in flight so a stalled server
// cannot exhaust the loader; once reached the dispatcher waits, and the wait
// counts in the latency of every request it delays.
const openLoopMaxOutstanding = 4096

type openLoopResult struct {
	Round       int
	Peer        string
	Fraction    float64
	TargetRPS   float64
	AchievedRPS float64
	Requests    int
	P50, P99    time.Duration
	P999, Max   time.Duration
	CPUPerRPC   float64
	Load1       float64
}

func openLoopScenario(o options) ([]string, error) {
	children, stop, err := startChildren(openLoopPeers...)
	if err != nil {
		return nil, err
	}
	defer stop()
	ref := openLoopPeers[0]
	peak, err := runUnary(children[ref], clientGRPCGo, 0, o.inFlight, o.dur)
	if err != nil {
		return nil, err
	}
	fmt.Printf("\n== open loop, rates from %s closed-loop peak %.0f req/s (%d in flight), %v per cell, %d rounds ==\n",
		ref, peak.RPS, o.inFlight, o.dur, o.rounds)
	fmt.Printf("%-5s %-16s %5s %9s %9s %9s %9s %9s %9s %8s %5s\n", "round", "peer", "frac", "target/s", "got/s", "p50(us)", "p99(us)", "p99.9(us)", "max(us)", "cpu-us", "load")
	var results []openLoopResult
	for round := range o.rounds {
		order := rotated(openLoopPeers, round)
		for _, frac := range openLoopFractions {
			for _, p := range order {
				r, err := runOpenLoop(children[p], frac*peak.RPS, o.dur)
				if err != nil {
					return nil, err
				}
				r.Round, r.Fraction = round, frac
				results = append(results, r)
				fmt.Printf("%-5d %-16s %5.2f %9.0f %9.0f %9.0f %9.0f %9.0f %9.0f %8.1f %5.2f\n", round, p, frac, r.TargetRPS, r.AchievedRPS,
					us(r.P50), us(r.P99), us(r.P999), us(r.Max), r.CPUPerRPC, r.Load1)
			}
		}
	}
	if o.out != "" {
		rows := [][]string{{"round", "peer", "client", "reference_peer", "reference_peak_rps", "fraction", "target_rps", "achieved_rps", "requests",
			"p50_us", "p99_us", "p999_us", "max_us", "server_cpu_us_per_rpc", "load1"}}
		for _, r := range results {
			rows = append(rows, []string{itoa(r.Round), r.Peer, string(clientGRPCGo), ref, ftoa(peak.RPS), ftoa(r.Fraction), ftoa(r.TargetRPS),
				ftoa(r.AchievedRPS), itoa(r.Requests), ftoa(us(r.P50)), ftoa(us(r.P99)), ftoa(us(r.P999)), ftoa(us(r.Max)), ftoa(r.CPUPerRPC), ftoa(r.Load1)})
		}
		if err := writeCSV(filepath.Join(o.out, "openloop.csv"), rows); err != nil {
			return nil, err
		}
	}
	var heads []string
	for _, frac := range openLoopFractions {
		for _, p := range openLoopPeers {
			var p99s, p999s []float64
			for _, r := range results {
				if r.Peer == p && r.Fraction == frac {
					p99s = append(p99s, us(r.P99))
					p999s = append(p999s, us(r.P999))
				}
			}
			m99, _, _ := medianMinMax(p99s)
			m999, _, _ := medianMinMax(p999s)
			heads = append(heads, fmt.Sprintf("open loop %3.0f%% of %s peak (%6.0f/s) %-16s p99 %7.0f us  p99.9 %7.0f us (medians)",
				frac*100, ref, frac*peak.RPS, p, m99, m999))
		}
	}
	return heads, nil
}

// runOpenLoop sends tiny SayHello calls to c at rate per second for d after
// a warm-up of d/5, and reads the server's CPU around the measured window.
func runOpenLoop(c *child, rate float64, d time.Duration) (openLoopResult, error) {
	call, closeFn, err := newCaller(clientGRPCGo, c.addr)
	if err != nil {
		return openLoopResult{}, err
	}
	defer closeFn()
	if _, err := openLoop(call, rate, d/5); err != nil {
		return openLoopResult{}, fmt.Errorf("%s: %w", c.name, err)
	}
	var (
		lats    []time.Duration
		elapsed time.Duration
	)
	used, err := c.measure(func() (err error) {
		start := time.Now()
		lats, err = openLoop(call, rate, d)
		elapsed = time.Since(start)
		return err
	})
	if err != nil {
		return openLoopResult{}, fmt.Errorf("%s: %w", c.name, err)
	}
	slices.Sort(lats)
	n := len(lats)
	return openLoopResult{
		Peer: c.name, TargetRPS: rate, Requests: n,
		AchievedRPS: float64(n) / elapsed.Seconds(),
		P50:         quantile(lats, 0.50),
		P99:         quantile(lats, 0.99),
		P999:        quantile(lats, 0.999),
		Max:         quantile(lats, 1),
		CPUPerRPC:   used.cpuPer(int64(n)),
		Load1:       loadavg(),
	}, nil
}

// openLoop issues round(rate*d) calls, call i intended at start+i/rate, and
// returns each call's latency from its intended time. The dispatcher wakes
// on a timer and sends every call whose time has come, so coarse timer
// resolution delays sends but never hides the delay. It waits for every
// call to finish; any error fails the run.
func openLoop(call caller, rate float64, d time.Duration) ([]time.Duration, error) {
	total := int(rate * d.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	lats := make([]time.Duration, total)
	sem := make(chan struct{}, openLoopMaxOutstanding)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	for i := 0; i < total && ctx.Err() == nil; i++ {
		intended := start.Add(time.Duration(i) * interval)
		if wait := time.Until(intended); wait > 0 {
			time.Sleep(wait)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := call(ctx, ""); err != nil {
				errOnce.Do(func() { firstErr = err; cancel() })
				return
			}
			lats[i] = time.Since(intended)
		})
	}
	wg.Wait()
	return lats, firstErr
}
