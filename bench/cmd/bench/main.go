// Command bench measures Parley's server beside the stacks its users would
// otherwise pick (grpc-go, minimal connect-go, net/http+JSON, improbable
// gRPC-Web, grpc-gateway), plus room fan-out and durable sends on Parley
// and, in the same rounds, on the floors of its transports (floor_peer.go,
// floor_sqlite.go). Scenarios (-only NAME): unary (closed loop), openloop
// (fixed arrival rate), stream (server-stream and bidi ping-pong), h2load
// (unary gRPC cross-check), seed (the seed documents' claims), fanout,
// durable.
//
// Every server runs as a child process (this binary re-executed with
// PARLEY_BENCH_PEER set) on a loopback port, so server CPU time and
// allocations per RPC are the server's own (and, on Linux, its read and
// write syscalls, from /proc/PID/io); the loader is this process.
//
//	go run ./cmd/bench -quick          # about a minute, headline ratios last
//	go run ./cmd/bench -out ../docs/bench
//	go run ./cmd/bench -cpu pinned -out ../docs/bench/pinned
//	go run ./cmd/bench -only stream -d 1s -rounds 1
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	if name := os.Getenv(peerEnv); name != "" {
		if err := runPeer(name); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

type options struct {
	quick    bool
	rounds   int
	dur      time.Duration
	inFlight int
	out      string
	only     string
	subs     string
	cpu      string
	h2load   string
	pub      publisher
}

// scenario is one selectable part of the run (-only NAME).
type scenario struct {
	name  string
	quick bool // part of -quick's default selection
	run   func(options) ([]string, error)
}

// scenarios in the order they run.
var scenarios = []scenario{
	{"unary", true, unaryScenario},
	{"openloop", false, openLoopScenario},
	{"stream", false, streamScenario},
	{"h2load", false, h2loadScenario},
	{"seed", false, seedScenario},
	{"fanout", true, fanoutScenario},
	{"durable", true, durableScenario},
}

func run() error {
	var o options
	flag.BoolVar(&o.quick, "quick", false, "short run (3 rounds, tiny payload, fan-out to 1,000 with the floors at 1,000; scenarios unary, fanout, durable unless -only)")
	flag.IntVar(&o.rounds, "rounds", 0, "interleaved rounds (default 3 quick, 5 full)")
	flag.DurationVar(&o.dur, "d", 0, "measured time per cell per round (default 500ms quick, 2s full)")
	flag.IntVar(&o.inFlight, "c", 16, "calls in flight (closed loop)")
	flag.StringVar(&o.out, "out", "", "directory for CSV files (none if empty)")
	flag.StringVar(&o.only, "only", "", "comma-separated scenarios: unary, openloop, stream, h2load, seed, fanout, durable (default all; -quick: unary, fanout, durable)")
	flag.StringVar(&o.subs, "subs", "", "fan-out sizes, comma-separated (default 10,100,1000 quick; 10,100,1000,10000 full)")
	flag.StringVar(&o.cpu, "cpu", cpuShared, "CPU mode: shared (loader and server on any core) or pinned (server taskset -c 0 with GOMAXPROCS=1, loader taskset -c 1)")
	flag.StringVar(&o.h2load, "h2load", "h2load", "h2load binary for the h2load scenario (skipped if not found)")
	flag.Float64Var(&o.pub.rate, "rate", 0, "fan-out publish rate in events/s (0: one sender, each send waits for the previous ack)")
	flag.IntVar(&o.pub.senders, "senders", 8, "fan-out concurrent senders when -rate is set")
	flag.IntVar(&o.pub.msgs, "msgs", 0, "fan-out messages per size (default 200, 30 quick, 50 at 10,000 subscribers)")
	flag.Parse()
	if err := pinLoader(o.cpu); err != nil {
		return err
	}
	if o.rounds == 0 {
		o.rounds = 5
		if o.quick {
			o.rounds = 3
		}
	}
	if o.dur == 0 {
		o.dur = 2 * time.Second
		if o.quick {
			o.dur = 500 * time.Millisecond
		}
	}
	selected := map[string]bool{}
	for _, name := range strings.Split(o.only, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		if !slices.ContainsFunc(scenarios, func(s scenario) bool { return s.name == name }) {
			return fmt.Errorf("-only: unknown scenario %q", name)
		}
		selected[name] = true
	}
	if len(selected) == 0 {
		for _, s := range scenarios {
			selected[s.name] = s.quick || !o.quick
		}
	}
	if o.out != "" {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return err
		}
	}
	fmt.Printf("# machine: %s; cpu mode %s\n", machine(), cpuMode())
	var headlines []string
	for _, s := range scenarios {
		if !selected[s.name] {
			continue
		}
		h, err := s.run(o)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		headlines = append(headlines, h...)
	}
	fmt.Println("\n== headline ==")
	for _, h := range headlines {
		fmt.Println(h)
	}
	return nil
}

// rotated returns a copy of s started at index round mod len(s), so that
// across rounds no peer or cell always runs first.
func rotated[T any](s []T, round int) []T {
	k := round % len(s)
	return append(slices.Clone(s[k:]), s[:k]...)
}

type cell struct {
	peer   string
	client clientKind
}

func unaryCells(quick bool) []cell {
	if quick {
		return []cell{
			{peerGRPCNative, clientGRPCGo},
			{peerConnectMin, clientGRPCGo},
			{peerParley, clientGRPCGo},
			{peerConnectMin, clientConnectProto},
			{peerParley, clientConnectProto},
			{peerREST, clientRESTH1},
			{peerGateway, clientGatewayH1},
			{peerParley, clientConnectJSONH1},
			{peerParleyREST, clientVanguardH1},
			{peerImprobable, clientConnectGRPCWebH1},
			{peerParley, clientConnectGRPCWebH1},
			{peerParleyNoLog, clientGRPCGo},
			{peerParleyNoLog, clientConnectProto},
		}
	}
	cells := []cell{
		{peerGRPCNative, clientGRPCGo}, {peerGRPCNative, clientConnectGRPC},
		{peerGRPCServe, clientGRPCGo}, {peerGRPCServe, clientConnectGRPC},
		{peerREST, clientRESTH1},
		{peerGateway, clientGatewayH1}, {peerParleyREST, clientVanguardH1},
		{peerImprobable, clientConnectGRPCWebH1}, {peerImprobable, clientConnectGRPCWeb},
	}
	for _, p := range []string{peerConnectMin, peerParley} {
		for _, c := range []clientKind{clientGRPCGo, clientConnectGRPC, clientConnectProto, clientConnectJSON, clientConnectJSONH1, clientConnectGRPCWebH1, clientConnectGRPCWeb} {
			cells = append(cells, cell{p, c})
		}
	}
	cells = append(cells, cell{peerParleyNoLog, clientGRPCGo}, cell{peerParleyNoLog, clientConnectProto})
	return cells
}

// ratioSpec compares metric of cell a to cell b, round by round.
type ratioSpec struct {
	label  string
	metric string // cpu, rps
	a, b   cell
	target string
}

var ratioSpecs = []ratioSpec{
	{"server CPU/RPC parley / grpc-go native (grpc-go client)", "cpu", cell{peerParley, clientGRPCGo}, cell{peerGRPCNative, clientGRPCGo}, "<= 1.10"},
	{"server CPU/RPC parley / connect-min (grpc-go client)", "cpu", cell{peerParley, clientGRPCGo}, cell{peerConnectMin, clientGRPCGo}, "<= 1.05"},
	{"server CPU/RPC parley / connect-min (connect proto)", "cpu", cell{peerParley, clientConnectProto}, cell{peerConnectMin, clientConnectProto}, "<= 1.05"},
	{"server CPU/RPC parley+DiscardHandler / connect-min (grpc-go client)", "cpu", cell{peerParleyNoLog, clientGRPCGo}, cell{peerConnectMin, clientGRPCGo}, "<= 1.05"},
	{"server CPU/RPC parley+DiscardHandler / connect-min (connect proto)", "cpu", cell{peerParleyNoLog, clientConnectProto}, cell{peerConnectMin, clientConnectProto}, "<= 1.05"},
	{"req/s parley / grpc-go native (grpc-go client)", "rps", cell{peerParley, clientGRPCGo}, cell{peerGRPCNative, clientGRPCGo}, "-"},
	{"req/s parley connect+json / net-http REST+json (http1)", "rps", cell{peerParley, clientConnectJSONH1}, cell{peerREST, clientRESTH1}, "-"},
	{"req/s parley connect+json / grpc-gateway json (http1)", "rps", cell{peerParley, clientConnectJSONH1}, cell{peerGateway, clientGatewayH1}, ">= 2.0"},
	{"server CPU/RPC parley connect+json / grpc-gateway json (http1)", "cpu", cell{peerParley, clientConnectJSONH1}, cell{peerGateway, clientGatewayH1}, "-"},
	{"req/s parley REST json (vanguard) / grpc-gateway json (http1)", "rps", cell{peerParleyREST, clientVanguardH1}, cell{peerGateway, clientGatewayH1}, "-"},
	{"server CPU/RPC parley REST json (vanguard) / grpc-gateway json (http1)", "cpu", cell{peerParleyREST, clientVanguardH1}, cell{peerGateway, clientGatewayH1}, "-"},
	{"req/s parley grpc-web / improbable grpc-web (http1)", "rps", cell{peerParley, clientConnectGRPCWebH1}, cell{peerImprobable, clientConnectGRPCWebH1}, ">= 1.2"},
}

func unaryScenario(o options) ([]string, error) {
	cells := unaryCells(o.quick)
	payloads := []int{0}
	if !o.quick {
		payloads = []int{0, 1024, 16 << 10}
	}
	peers := make([]string, len(cells))
	for i, c := range cells {
		peers[i] = c.peer
	}
	children, stop, err := startChildren(peers...)
	if err != nil {
		return nil, err
	}
	defer stop()
	var results []unaryResult
	fmt.Printf("\n== unary, closed loop, %d in flight, %v per cell, %d rounds ==\n", o.inFlight, o.dur, o.rounds)
	fmt.Printf("%-5s %-21s %-31s %6s %9s %9s %9s %9s %8s %7s %7s %5s\n", "round", "peer", "client", "bytes", "req/s", "p50(us)", "p99(us)", "cpu-us", "allocs", "rd/call", "wr/call", "load")
	for round := range o.rounds {
		for _, payload := range payloads {
			order := rotated(cells, round)
			for _, c := range order {
				r, err := runUnary(children[c.peer], c.client, payload, o.inFlight, o.dur)
				if err != nil {
					return nil, err
				}
				r.Round = round
				results = append(results, r)
				fmt.Printf("%-5d %-21s %-31s %6d %9.0f %9.0f %9.0f %9.1f %8.1f %7.2f %7.2f %5.2f\n", round, r.Peer, r.Client, payload, r.RPS,
					us(r.P50), us(r.P99), r.CPUPerRPC, r.AllocPerRPC, r.ReadsPerRPC, r.WritesPerRPC, r.Load1)
			}
		}
	}
	if o.out != "" {
		rows := [][]string{{"round", "peer", "client", "payload_bytes", "in_flight", "seconds", "requests", "rps", "p50_us", "p99_us", "server_cpu_us_per_rpc", "server_allocs_per_rpc", "server_reads_per_rpc", "server_writes_per_rpc", "load1"}}
		for _, r := range results {
			rows = append(rows, []string{itoa(r.Round), r.Peer, string(r.Client), itoa(r.Payload), itoa(r.InFlight), ftoa(r.Seconds), itoa(r.Requests),
				ftoa(r.RPS), ftoa(us(r.P50)), ftoa(us(r.P99)), ftoa(r.CPUPerRPC), ftoa(r.AllocPerRPC), ftoa(r.ReadsPerRPC), ftoa(r.WritesPerRPC), ftoa(r.Load1)})
		}
		if err := writeCSV(filepath.Join(o.out, "unary.csv"), rows); err != nil {
			return nil, err
		}
	}
	var heads []string
	ratioRows := [][]string{ratioHeader("payload_bytes")}
	for _, payload := range payloads {
		for _, spec := range ratioSpecs {
			var ratios []float64
			for round := range o.rounds {
				a, okA := find(results, spec.a, payload, round)
				b, okB := find(results, spec.b, payload, round)
				if !okA || !okB {
					continue
				}
				va, vb := a.RPS, b.RPS
				if spec.metric == "cpu" {
					va, vb = a.CPUPerRPC, b.CPUPerRPC
				}
				ratios = append(ratios, va/vb)
			}
			if len(ratios) == 0 {
				continue
			}
			row, head := ratioRow(itoa(payload), "B", spec.label, spec.metric, ratios, spec.target)
			ratioRows, heads = append(ratioRows, row), append(heads, head)
		}
	}
	heads = append(heads, syscallHeads(cells, results, payloads[0])...)
	if o.out != "" {
		if err := writeCSV(filepath.Join(o.out, "ratios.csv"), ratioRows); err != nil {
			return nil, err
		}
	}
	return heads, nil
}

// ratioHeader is the header of a ratios CSV file whose rows ratioRow
// makes; atColumn names what at is (payload_bytes, subscribers, ...).
func ratioHeader(atColumn string) []string {
	return []string{atColumn, "ratio", "metric", "median", "min", "max", "rounds", "target"}
}

// ratioRow summarises per-round ratios of label at at (a payload, a
// subscriber count, ...; unit follows it in the headline): the median,
// min and max as a CSV row and as a headline.
func ratioRow(at, unit, label, metric string, ratios []float64, target string) (row []string, head string) {
	med, lo, hi := medianMinMax(ratios)
	row = []string{at, label, metric, ftoa(med), ftoa(lo), ftoa(hi), itoa(len(ratios)), target}
	head = fmt.Sprintf("%-72s %10s  %.2fx (min %.2f, max %.2f; target %s)", label, at+unit, med, lo, hi, target)
	return row, head
}

// syscallHeads are one headline per unary cell: the server's read and
// write syscalls per call at payload, medians over rounds.
func syscallHeads(cells []cell, results []unaryResult, payload int) []string {
	heads := []string{fmt.Sprintf("server read / write syscalls per call at %d B, median over rounds (/proc/PID/io syscr/syscw; Linux only):", payload)}
	for _, c := range cells {
		var reads, writes []float64
		for round := 0; ; round++ {
			r, ok := find(results, c, payload, round)
			if !ok {
				break
			}
			if r.ReadsPerRPC >= 0 {
				reads, writes = append(reads, r.ReadsPerRPC), append(writes, r.WritesPerRPC)
			}
		}
		if len(reads) == 0 {
			heads = append(heads, fmt.Sprintf("  %-21s %-31s unknown (no /proc/PID/io)", c.peer, c.client))
			continue
		}
		rd, _, _ := medianMinMax(reads)
		wr, _, _ := medianMinMax(writes)
		heads = append(heads, fmt.Sprintf("  %-21s %-31s %6.2f reads %6.2f writes", c.peer, c.client, rd, wr))
	}
	return heads
}

func find(rs []unaryResult, c cell, payload, round int) (unaryResult, bool) {
	for _, r := range rs {
		if r.Peer == c.peer && r.Client == c.client && r.Payload == payload && r.Round == round {
			return r, true
		}
	}
	return unaryResult{}, false
}

func medianMinMax(v []float64) (med, lo, hi float64) {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	med = s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
func itoa(i int) string          { return strconv.Itoa(i) }
func ftoa(f float64) string      { return strconv.FormatFloat(f, 'f', 3, 64) }
func timeAfter(sec int) <-chan time.Time {
	return time.After(time.Duration(sec) * time.Second)
}

func writeCSV(path string, rows [][]string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.WriteAll(rows)
	if err := w.Error(); err != nil {
		_ = f.Close() // the write error is the one to report
		return err
	}
	return f.Close()
}

func loadavg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	return f
}

func machine() string {
	model := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("%s; kernel %s; load1 %.2f", model, strings.TrimSpace(string(kernel)), loadavg())
}
