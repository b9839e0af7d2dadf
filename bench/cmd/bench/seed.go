package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley/bench/codec"
)

// The seed documents' claims, each reproduced under stated conditions:
//
//   - "gRPC 5-10x faster than REST+JSON": closed loop, -c in flight, -d per
//     cell, payloads 0 B to 64 KiB (SayHello name length): grpc-go client
//     to grpc-go native and to Parley, against net/http+encoding/json REST
//     with keep-alive on and off (DisableKeepAlives).
//   - "1000 calls: REST 5.2 s vs gRPC 0.8 s": 1000 sequential tiny calls,
//     REST with a new connection per call and with keep-alive, against one
//     gRPC connection (grpc-go native and Parley), and Parley's Connect JSON.
//   - "protobuf ~20 B vs JSON ~55 B": encoded sizes of Parley's messages
//     (protobuf binary, protojson), and bytes on the wire per call (both
//     directions, TCP payload only, counted at the client's socket) for a
//     SayHello with a 5-byte name, on a warm connection.
//   - "JSON 100 us vs protobuf 10 us": the bench/codec benchmarks run in
//     process, each for -d/10 (at least 50 ms).
//
// By default -rounds rounds for the first two; one CSV, seed.csv, in long
// form (claim, round, subject, condition, metric, value, load1).

// seedPayloads are the name lengths swept for the 5-10x claim.
var seedPayloads = []int{0, 1024, 16 << 10, 64 << 10}

// seedCalls is the sequential call count of the 1000-calls claim.
const seedCalls = 1000

type seedRow struct {
	claim, subject, condition, metric string
	round                             int
	value                             float64
	load1                             float64
}

func seedScenario(o options) ([]string, error) {
	children, stop, err := startChildren(peerGRPCNative, peerParley, peerREST)
	if err != nil {
		return nil, err
	}
	defer stop()
	var rows []seedRow
	var heads []string
	h, r, err := seedSpeed(o, children)
	if err != nil {
		return nil, err
	}
	heads, rows = append(heads, h...), append(rows, r...)
	h, r, err = seedSequential(o, children)
	if err != nil {
		return nil, err
	}
	heads, rows = append(heads, h...), append(rows, r...)
	h, r, err = seedSizes(children)
	if err != nil {
		return nil, err
	}
	heads, rows = append(heads, h...), append(rows, r...)
	h, r, err = seedCodec(o)
	if err != nil {
		return nil, err
	}
	heads, rows = append(heads, h...), append(rows, r...)
	if o.out != "" {
		out := [][]string{{"claim", "round", "subject", "condition", "metric", "value", "load1"}}
		for _, r := range rows {
			out = append(out, []string{r.claim, itoa(r.round), r.subject, r.condition, r.metric, ftoa(r.value), ftoa(r.load1)})
		}
		if err := writeCSV(filepath.Join(o.out, "seed.csv"), out); err != nil {
			return nil, err
		}
	}
	return heads, nil
}

const (
	claimSpeed = "grpc 5-10x faster than rest+json"
	claimCalls = "1000 calls rest 5.2 s vs grpc 0.8 s"
	claimSize  = "protobuf ~20 B vs json ~55 B"
	claimCodec = "json 100 us vs protobuf 10 us"
)

// seedSpeed measures req/s per payload for gRPC and REST (keep-alive on and
// off), rounds interleaved.
func seedSpeed(o options, children map[string]*child) ([]string, []seedRow, error) {
	cells := []cell{
		{peerGRPCNative, clientGRPCGo},
		{peerParley, clientGRPCGo},
		{peerREST, clientRESTH1},
		{peerREST, clientRESTH1Close},
	}
	fmt.Printf("\n== seed: %q, closed loop, %d in flight, %v per cell, %d rounds ==\n", claimSpeed, o.inFlight, o.dur, o.rounds)
	fmt.Printf("%-5s %-16s %-32s %6s %9s %9s\n", "round", "peer", "client", "bytes", "req/s", "p99(us)")
	var rows []seedRow
	rps := map[string][]float64{} // "payload/peer/client" -> per round
	for round := range o.rounds {
		for _, payload := range seedPayloads {
			order := rotated(cells, round)
			for _, c := range order {
				r, err := runUnary(children[c.peer], c.client, payload, o.inFlight, o.dur)
				if err != nil {
					return nil, nil, err
				}
				fmt.Printf("%-5d %-16s %-32s %6d %9.0f %9.0f\n", round, c.peer, c.client, payload, r.RPS, us(r.P99))
				subject := c.peer + " via " + string(c.client)
				cond := fmt.Sprintf("payload %d B, %d in flight", payload, o.inFlight)
				rows = append(rows, seedRow{claimSpeed, subject, cond, "rps", round, r.RPS, r.Load1})
				key := fmt.Sprintf("%d/%s/%s", payload, c.peer, c.client)
				rps[key] = append(rps[key], r.RPS)
			}
		}
	}
	var heads []string
	for _, payload := range seedPayloads {
		for _, g := range cells[:2] {
			for _, rest := range cells[2:] {
				a := rps[fmt.Sprintf("%d/%s/%s", payload, g.peer, g.client)]
				b := rps[fmt.Sprintf("%d/%s/%s", payload, rest.peer, rest.client)]
				ratios := make([]float64, len(a))
				for i := range a {
					ratios[i] = a[i] / b[i]
				}
				m, lo, hi := medianMinMax(ratios)
				ka := "keep-alive"
				if rest.client == clientRESTH1Close {
					ka = "new conn/call"
				}
				heads = append(heads, fmt.Sprintf("seed %-34q %5d B  %-14s / REST %-13s %.2fx (%.2f-%.2f)", claimSpeed, payload, g.peer, ka, m, lo, hi))
			}
		}
	}
	return heads, rows, nil
}

// seedSequential times seedCalls calls made one after another, the first
// one's connection set-up included.
func seedSequential(o options, children map[string]*child) ([]string, []seedRow, error) {
	cells := []cell{
		{peerREST, clientRESTH1Close},
		{peerREST, clientRESTH1},
		{peerGRPCNative, clientGRPCGo},
		{peerParley, clientGRPCGo},
		{peerParley, clientConnectJSONH1},
	}
	fmt.Printf("\n== seed: %q, %d sequential calls, tiny payload, %d rounds ==\n", claimCalls, seedCalls, o.rounds)
	fmt.Printf("%-5s %-16s %-32s %9s %9s\n", "round", "peer", "client", "seconds", "us/call")
	var rows []seedRow
	secs := map[cell][]float64{}
	for round := range o.rounds {
		for _, c := range cells {
			call, closeFn, err := newCaller(c.client, children[c.peer].addr)
			if err != nil {
				return nil, nil, err
			}
			start := time.Now()
			for range seedCalls {
				if err := call(context.Background(), "world"); err != nil {
					closeFn()
					return nil, nil, fmt.Errorf("%s via %s: %w", c.peer, c.client, err)
				}
			}
			el := time.Since(start)
			closeFn()
			fmt.Printf("%-5d %-16s %-32s %9.3f %9.1f\n", round, c.peer, c.client, el.Seconds(), us(el)/seedCalls)
			rows = append(rows, seedRow{claimCalls, c.peer + " via " + string(c.client), fmt.Sprintf("%d sequential calls, name of 5 B", seedCalls), "seconds", round, el.Seconds(), loadavg()})
			secs[c] = append(secs[c], el.Seconds())
		}
	}
	var heads []string
	for _, c := range cells {
		m, lo, hi := medianMinMax(secs[c])
		heads = append(heads, fmt.Sprintf("seed %-34q %-16s via %-32s %.3f s (%.3f-%.3f)", claimCalls, c.peer, c.client, m, lo, hi))
	}
	return heads, rows, nil
}

// countingConn counts the bytes read and written on a connection.
type countingConn struct {
	net.Conn
	in, out *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.Add(int64(n))
	return n, err
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.Add(int64(n))
	return n, err
}

// seedSizes reports encoded message sizes and per-call wire bytes.
func seedSizes(children map[string]*child) ([]string, []seedRow, error) {
	var rows []seedRow
	var heads []string
	fmt.Printf("\n== seed: %q, encoded sizes ==\n", claimSize)
	fmt.Printf("%-20s %8s %10s %12s\n", "message", "proto B", "protojson B", "encoding/json B")
	for _, c := range codec.Cases() {
		p, j, err := codec.Sizes(c.Msg)
		if err != nil {
			return nil, nil, err
		}
		std := "-"
		if c.Name == "HelloRequest" {
			b, _ := json.Marshal(restHello{Name: "world"})
			std = itoa(len(b))
			rows = append(rows, seedRow{claimSize, c.Name, "payload, net/http REST struct", "encoding_json_bytes", 0, float64(len(b)), 0})
		}
		fmt.Printf("%-20s %8d %10d %12s\n", c.Name, p, j, std)
		rows = append(rows,
			seedRow{claimSize, c.Name, "payload", "proto_bytes", 0, float64(p), 0},
			seedRow{claimSize, c.Name, "payload", "protojson_bytes", 0, float64(j), 0})
		heads = append(heads, fmt.Sprintf("seed %-34q %-20s payload proto %4d B, protojson %4d B (%.2fx)", claimSize, c.Name, p, j, float64(j)/float64(p)))
	}
	const warmCalls = 100
	cells := []cell{
		{peerGRPCNative, clientGRPCGo},
		{peerParley, clientGRPCGo},
		{peerParley, clientConnectProto},
		{peerParley, clientConnectJSONH1},
		{peerREST, clientRESTH1},
		{peerREST, clientRESTH1Close},
	}
	fmt.Printf("\n== seed: wire bytes per SayHello (name \"world\"), mean of %d calls after one warm call, TCP payload only ==\n", warmCalls)
	fmt.Printf("%-16s %-32s %9s %9s %9s\n", "peer", "client", "sent B", "recv B", "total B")
	for _, c := range cells {
		var in, out atomic.Int64
		dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{conn, &in, &out}, nil
		}
		call, closeFn, err := newCallerDial(c.client, children[c.peer].addr, dial)
		if err != nil {
			return nil, nil, err
		}
		if err := call(context.Background(), "world"); err != nil {
			closeFn()
			return nil, nil, err
		}
		time.Sleep(50 * time.Millisecond) // let settings/ping acks of the set-up land
		in0, out0 := in.Load(), out.Load()
		for range warmCalls {
			if err := call(context.Background(), "world"); err != nil {
				closeFn()
				return nil, nil, err
			}
		}
		sent, recv := float64(out.Load()-out0)/warmCalls, float64(in.Load()-in0)/warmCalls
		closeFn()
		subject := c.peer + " via " + string(c.client)
		fmt.Printf("%-16s %-32s %9.1f %9.1f %9.1f\n", c.peer, c.client, sent, recv, sent+recv)
		rows = append(rows,
			seedRow{claimSize, subject, "wire per call, name of 5 B", "sent_bytes", 0, sent, loadavg()},
			seedRow{claimSize, subject, "wire per call, name of 5 B", "received_bytes", 0, recv, loadavg()})
		heads = append(heads, fmt.Sprintf("seed %-34q wire/call %-16s via %-32s %6.1f B", claimSize, c.peer, c.client, sent+recv))
	}
	return heads, rows, nil
}

// seedCodec runs the bench/codec benchmarks in process.
func seedCodec(o options) ([]string, []seedRow, error) {
	testing.Init()
	bt := max(o.dur/10, 50*time.Millisecond)
	if err := flag.Set("test.benchtime", bt.String()); err != nil {
		return nil, nil, err
	}
	fmt.Printf("\n== seed: %q, bench/codec in process, %v per benchmark ==\n", claimCodec, bt)
	fmt.Printf("%-20s %-20s %10s %8s %8s\n", "message", "op", "ns/op", "allocs", "B/msg")
	var rows []seedRow
	var heads []string
	for _, c := range codec.Cases() {
		ns := map[codec.Op]float64{}
		for _, op := range codec.Ops {
			r := testing.Benchmark(func(b *testing.B) { codec.Bench(b, c, op) })
			ns[op] = float64(r.T.Nanoseconds()) / float64(max(r.N, 1))
			fmt.Printf("%-20s %-20s %10.0f %8d %8.0f\n", c.Name, op, ns[op], r.AllocsPerOp(), r.Extra["bytes/msg"])
			rows = append(rows, seedRow{claimCodec, c.Name, string(op), "ns_per_op", 0, ns[op], loadavg()})
		}
		heads = append(heads, fmt.Sprintf("seed %-34q %-20s marshal json/proto %5.1fx (%s vs %s), unmarshal %5.1fx (%s vs %s)", claimCodec, c.Name,
			ns[codec.JSONMarshal]/ns[codec.ProtoMarshal], dur(ns[codec.JSONMarshal]), dur(ns[codec.ProtoMarshal]),
			ns[codec.JSONUnmarshal]/ns[codec.ProtoUnmarshal], dur(ns[codec.JSONUnmarshal]), dur(ns[codec.ProtoUnmarshal])))
	}
	return heads, rows, nil
}

func dur(ns float64) string {
	return strings.TrimSpace(time.Duration(ns).Round(10 * time.Nanosecond).String())
}
