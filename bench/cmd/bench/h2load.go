package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/gen/helloworld"
	"github.com/parley-chat/parley/gen/helloworld/helloworldconnect"
)

// The h2load cross-check: h2load (Debian package nghttp2-client) posts one
// pre-encoded gRPC request (a length-prefixed, empty HelloRequest) with
// content-type application/grpc and te: trailers over h2c, on one connection
// with -c (default 16) streams in flight, the same shape as the Go loader's
// grpc-go client cell, which runs beside it. h2load counts HTTP 2xx as
// success and never reads grpc-status, so the same bytes are first sent by a
// Go HTTP/2 client that checks the status trailer and decodes the reply.
// By default, -d per run (h2load: rounded to whole seconds, at least 1,
// after a 1 s warm-up), -rounds rounds; skipped
// (one CSV row saying so) when the -h2load binary is not found.

// h2loadPeers are cross-checked; the first is the reference.
var h2loadPeers = []string{peerGRPCNative, peerParley, peerConnectMin}

type h2loadResult struct {
	Round     int
	Peer      string
	Tool      string
	RPS       float64
	Requests  int
	Failed    int
	CPUPerRPC float64
	Load1     float64
}

func h2loadScenario(o options) ([]string, error) {
	path, err := exec.LookPath(o.h2load)
	if err != nil {
		fmt.Printf("\n== h2load: skipped (%s not found; apt-get install nghttp2-client) ==\n", o.h2load)
		if o.out != "" {
			if err := writeCSV(filepath.Join(o.out, "h2load.csv"), [][]string{{"status"}, {"skipped: h2load not found"}}); err != nil {
				return nil, err
			}
		}
		return []string{"h2load cross-check: skipped (h2load not found)"}, nil
	}
	body, err := grpcFrame(&helloworld.HelloRequest{})
	if err != nil {
		return nil, err
	}
	bodyFile, err := os.CreateTemp("", "parley-bench-grpc-*.bin")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.Remove(bodyFile.Name()) }() // a temporary file
	if _, err := bodyFile.Write(body); err != nil {
		return nil, err
	}
	if err := bodyFile.Close(); err != nil {
		return nil, err
	}
	children, stop, err := startChildren(h2loadPeers...)
	if err != nil {
		return nil, err
	}
	defer stop()
	for p, c := range children {
		if err := checkGRPCBody(c.addr, body); err != nil {
			return nil, fmt.Errorf("%s: pre-encoded request: %w", p, err)
		}
	}
	fmt.Printf("\n== h2load cross-check, unary gRPC, empty HelloRequest, 1 connection x %d streams, %v per run, %d rounds ==\n", o.inFlight, o.dur, o.rounds)
	fmt.Printf("%-5s %-16s %-24s %9s %9s %7s %8s %5s\n", "round", "peer", "tool", "req/s", "requests", "failed", "cpu-us", "load")
	var results []h2loadResult
	for round := range o.rounds {
		for _, p := range h2loadPeers {
			c := children[p]
			r, err := runH2load(c, path, bodyFile.Name(), o.inFlight, o.dur)
			if err != nil {
				return nil, err
			}
			g, err := runUnary(c, clientGRPCGo, 0, o.inFlight, o.dur)
			if err != nil {
				return nil, err
			}
			gr := h2loadResult{Peer: p, Tool: "go " + string(clientGRPCGo), RPS: g.RPS, Requests: g.Requests, CPUPerRPC: g.CPUPerRPC, Load1: g.Load1}
			for _, x := range []*h2loadResult{&r, &gr} {
				x.Round = round
				results = append(results, *x)
				fmt.Printf("%-5d %-16s %-24s %9.0f %9d %7d %8.1f %5.2f\n", round, x.Peer, x.Tool, x.RPS, x.Requests, x.Failed, x.CPUPerRPC, x.Load1)
			}
		}
	}
	if o.out != "" {
		rows := [][]string{{"round", "peer", "tool", "in_flight", "rps", "requests", "failed", "server_cpu_us_per_rpc", "load1"}}
		for _, r := range results {
			rows = append(rows, []string{itoa(r.Round), r.Peer, r.Tool, itoa(o.inFlight), ftoa(r.RPS), itoa(r.Requests), itoa(r.Failed), ftoa(r.CPUPerRPC), ftoa(r.Load1)})
		}
		if err := writeCSV(filepath.Join(o.out, "h2load.csv"), rows); err != nil {
			return nil, err
		}
	}
	var heads []string
	for _, tool := range []string{"h2load", "go " + string(clientGRPCGo)} {
		for _, p := range h2loadPeers[1:] {
			var ratios []float64
			for round := range o.rounds {
				var a, b float64
				for _, r := range results {
					if r.Round == round && r.Tool == tool {
						switch r.Peer {
						case p:
							a = r.RPS
						case h2loadPeers[0]:
							b = r.RPS
						}
					}
				}
				if a > 0 && b > 0 {
					ratios = append(ratios, a/b)
				}
			}
			if len(ratios) > 0 {
				m, lo, hi := medianMinMax(ratios)
				heads = append(heads, fmt.Sprintf("unary gRPC req/s %-11s / %s via %-28s %.2fx (min %.2f, max %.2f)", p, h2loadPeers[0], tool, m, lo, hi))
			}
		}
	}
	return heads, nil
}

// grpcFrame returns m as one gRPC length-prefixed message (uncompressed).
func grpcFrame(m proto.Message) ([]byte, error) {
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	frame := make([]byte, 5, 5+len(b))
	binary.BigEndian.PutUint32(frame[1:], uint32(len(b))) //nolint:gosec // a benchmark payload, a few KiB
	return append(frame, b...), nil
}

// checkGRPCBody posts body as h2load will and checks the answer is a
// successful SayHello: HTTP 200, grpc-status 0, one frame decoding to the
// expected reply.
func checkGRPCBody(addr string, body []byte) error {
	hc := httpClient(true)
	defer hc.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+helloworldconnect.GreeterSayHelloProcedure, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = res.Body.Close() }() // read only
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %s", res.Status)
	}
	st := res.Trailer.Get("Grpc-Status")
	if st == "" {
		st = res.Header.Get("Grpc-Status")
	}
	if st != "0" {
		return fmt.Errorf("grpc-status %q (%s)", st, res.Trailer.Get("Grpc-Message"))
	}
	if len(data) < 5 || data[0] != 0 || int(binary.BigEndian.Uint32(data[1:5])) != len(data)-5 {
		return fmt.Errorf("reply is not one uncompressed gRPC frame (%d bytes)", len(data))
	}
	var reply helloworld.HelloReply
	if err := proto.Unmarshal(data[5:], &reply); err != nil {
		return err
	}
	return checkReply(reply.GetMessage(), "")
}

var (
	h2loadFinished = regexp.MustCompile(`finished in [0-9.]+m?s, ([0-9.]+) req/s`)
	h2loadRequests = regexp.MustCompile(`requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored`)
)

// runH2load runs h2load against c for d (whole seconds, at least 1) after
// a 1 s warm-up and reads
// the server's CPU around it (the warm-up included, so CPU per request
// counts warm-up requests too: h2load reports only the main window).
func runH2load(c *child, h2load, bodyFile string, inFlight int, d time.Duration) (h2loadResult, error) {
	// h2load takes whole seconds.
	d = max(d.Round(time.Second), time.Second)
	warm := time.Second
	secs := func(t time.Duration) string { return strconv.Itoa(int(t.Seconds())) }
	cmd := exec.Command(h2load, "-c", "1", "-m", itoa(inFlight), "-t", "1",
		"-D", secs(d), "--warm-up-time="+secs(warm), "-d", bodyFile,
		"-H", "content-type: application/grpc", "-H", "te: trailers",
		"http://"+c.addr+helloworldconnect.GreeterSayHelloProcedure)
	var out []byte
	used, err := c.measure(func() (err error) {
		if out, err = cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("h2load: %w\n%s", err, out)
		}
		return nil
	})
	if err != nil {
		return h2loadResult{}, err
	}
	f := h2loadFinished.FindSubmatch(out)
	r := h2loadRequests.FindSubmatch(out)
	if f == nil || r == nil {
		return h2loadResult{}, fmt.Errorf("h2load: cannot parse output:\n%s", out)
	}
	rps, _ := strconv.ParseFloat(string(f[1]), 64)
	done, _ := strconv.Atoi(string(r[2]))
	failed, _ := strconv.Atoi(string(r[4]))
	errored, _ := strconv.Atoi(string(r[5]))
	// The warm-up's requests are not in done; estimate them at the same rate.
	total := float64(done) + rps*warm.Seconds()
	return h2loadResult{
		Peer: c.name, Tool: "h2load", RPS: rps, Requests: done, Failed: failed + errored,
		CPUPerRPC: float64(used.cpuMicros) / max(total, 1),
		Load1:     loadavg(),
	}, nil
}
