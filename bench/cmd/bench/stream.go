package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	benchv1 "github.com/parley-chat/parley/bench/gen/bench/v1"
)

// Stream throughput on the bench service (bench/api/bench/v1): a
// server-stream cell opens N ServerStream calls that each ask for more
// messages than the window can carry and counts the messages received in
// the window; a ping cell opens N Ping bidi streams, each sending one
// message and waiting for its answer before the next (ping-pong), and counts
// round trips. One grpc-go client connection (h2c) per cell drives every
// peer, so only the server differs. Reported per cell: messages (or round
// trips) per second, server CPU µs and allocations per message. By default,
// 1 and 64 streams, streamMsgBytes payloads, -d per cell after a warm-up of
// -d/5, -rounds rounds with the cell order rotated each round.
const streamMsgBytes = 64

// streamCounts are the numbers of concurrent streams per cell.
var streamCounts = []int{1, 64}

// streamPeers serve the bench service; the first is the reference.
var streamPeers = []string{peerGRPCNative, peerConnectMin, peerParley}

// Stream modes.
const (
	modeServerStream = "server-stream"
	modePing         = "bidi-ping"
)

type streamCell struct {
	peer    string
	mode    string
	streams int
}

type streamResult struct {
	streamCell
	Round       int
	Seconds     float64
	Msgs        int64
	MsgsPerSec  float64
	CPUPerMsg   float64
	AllocPerMsg float64
	Load1       float64
}

func streamScenario(o options) ([]string, error) {
	children, stop, err := startChildren(streamPeers...)
	if err != nil {
		return nil, err
	}
	defer stop()
	var cells []streamCell
	for _, mode := range []string{modeServerStream, modePing} {
		for _, n := range streamCounts {
			for _, p := range streamPeers {
				cells = append(cells, streamCell{p, mode, n})
			}
		}
	}
	fmt.Printf("\n== streams, grpc-go client, %d-byte messages, %v per cell, %d rounds ==\n", streamMsgBytes, o.dur, o.rounds)
	fmt.Printf("%-5s %-16s %-14s %7s %10s %10s %9s %5s\n", "round", "peer", "mode", "streams", "msgs/s", "cpu-us/msg", "allocs", "load")
	var results []streamResult
	for round := range o.rounds {
		order := rotated(cells, round)
		for _, c := range order {
			r, err := runStreamCell(children[c.peer], c, o.dur)
			if err != nil {
				return nil, err
			}
			r.Round = round
			results = append(results, r)
			fmt.Printf("%-5d %-16s %-14s %7d %10.0f %10.2f %9.2f %5.2f\n", round, c.peer, c.mode, c.streams, r.MsgsPerSec, r.CPUPerMsg, r.AllocPerMsg, r.Load1)
		}
	}
	if o.out != "" {
		rows := [][]string{{"round", "peer", "client", "mode", "streams", "msg_bytes", "seconds", "msgs", "msgs_per_s", "server_cpu_us_per_msg", "server_allocs_per_msg", "load1"}}
		for _, r := range results {
			rows = append(rows, []string{itoa(r.Round), r.peer, string(clientGRPCGo), r.mode, itoa(r.streams), itoa(streamMsgBytes), ftoa(r.Seconds),
				itoa(int(r.Msgs)), ftoa(r.MsgsPerSec), ftoa(r.CPUPerMsg), ftoa(r.AllocPerMsg), ftoa(r.Load1)})
		}
		if err := writeCSV(filepath.Join(o.out, "stream.csv"), rows); err != nil {
			return nil, err
		}
	}
	var heads []string
	ref := streamPeers[0]
	for _, mode := range []string{modeServerStream, modePing} {
		for _, n := range streamCounts {
			for _, p := range streamPeers[1:] {
				var rps, cpu []float64
				for round := range o.rounds {
					a, okA := findStream(results, streamCell{p, mode, n}, round)
					b, okB := findStream(results, streamCell{ref, mode, n}, round)
					if okA && okB {
						rps = append(rps, a.MsgsPerSec/b.MsgsPerSec)
						cpu = append(cpu, a.CPUPerMsg/b.CPUPerMsg)
					}
				}
				if len(rps) == 0 {
					continue
				}
				mr, lr, hr := medianMinMax(rps)
				mc, lc, hc := medianMinMax(cpu)
				heads = append(heads, fmt.Sprintf("%-13s %2d streams %-14s / %s: msgs/s %.2fx (%.2f-%.2f), server CPU/msg %.2fx (%.2f-%.2f)",
					mode, n, p, ref, mr, lr, hr, mc, lc, hc))
			}
		}
	}
	return heads, nil
}

func findStream(rs []streamResult, c streamCell, round int) (streamResult, bool) {
	for _, r := range rs {
		if r.streamCell == c && r.Round == round {
			return r, true
		}
	}
	return streamResult{}, false
}

// runStreamCell runs one cell: a warm-up of d/5, then d measured, with the
// server's CPU and mallocs read around the measured window.
func runStreamCell(c *child, cell streamCell, d time.Duration) (streamResult, error) {
	conn, err := grpc.NewClient(c.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return streamResult{}, err
	}
	defer func() { _ = conn.Close() }() // the measurement is over
	client := benchv1.NewBenchServiceClient(conn)
	drive := driveServerStreams
	if cell.mode == modePing {
		drive = drivePings
	}
	if _, err := drive(client, cell.streams, d/5); err != nil {
		return streamResult{}, fmt.Errorf("%s %s: %w", c.name, cell.mode, err)
	}
	var (
		n       int64
		elapsed time.Duration
	)
	used, err := c.measure(func() (err error) {
		start := time.Now()
		n, err = drive(client, cell.streams, d)
		elapsed = time.Since(start)
		return err
	})
	if err != nil {
		return streamResult{}, fmt.Errorf("%s %s: %w", c.name, cell.mode, err)
	}
	return streamResult{
		streamCell: cell, Seconds: elapsed.Seconds(), Msgs: n,
		MsgsPerSec:  float64(n) / elapsed.Seconds(),
		CPUPerMsg:   used.cpuPer(n),
		AllocPerMsg: used.allocsPer(n),
		Load1:       loadavg(),
	}, nil
}

// driveServerStreams keeps streams ServerStream calls open for d, each
// asking for more messages than d can carry (a finished stream is reopened),
// and returns the messages received.
func driveServerStreams(client benchv1.BenchServiceClient, streams int, d time.Duration) (int64, error) {
	return driveStreams(streams, d, func(ctx context.Context, got *atomic.Int64) error {
		for ctx.Err() == nil {
			s, err := client.ServerStream(ctx, &benchv1.ServerStreamRequest{Count: 1 << 30, Size: streamMsgBytes})
			if err != nil {
				return err
			}
			for {
				msg, err := s.Recv()
				if err != nil {
					return err
				}
				if len(msg.GetPayload()) != streamMsgBytes {
					return fmt.Errorf("got %d payload bytes", len(msg.GetPayload()))
				}
				got.Add(1)
			}
		}
		return nil
	})
}

// drivePings runs streams Ping streams in ping-pong for d and returns the
// round trips completed.
func drivePings(client benchv1.BenchServiceClient, streams int, d time.Duration) (int64, error) {
	payload := make([]byte, streamMsgBytes)
	return driveStreams(streams, d, func(ctx context.Context, got *atomic.Int64) error {
		s, err := client.Ping(ctx)
		if err != nil {
			return err
		}
		for {
			if err := s.Send(&benchv1.PingRequest{Payload: payload}); err != nil {
				if errors.Is(err, io.EOF) { // the stream ended: Recv has the status
					_, err = s.Recv()
				}
				return err
			}
			msg, err := s.Recv()
			if err != nil {
				return err
			}
			if len(msg.GetPayload()) != streamMsgBytes {
				return fmt.Errorf("got %d payload bytes", len(msg.GetPayload()))
			}
			got.Add(1)
		}
	})
}

// driveStreams runs worker on streams goroutines until d passes and returns
// the count they reached by then. The end of the window cancels every
// stream; only errors other than that cancellation fail the run.
func driveStreams(streams int, d time.Duration, worker func(context.Context, *atomic.Int64) error) (int64, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		got, atEnd atomic.Int64
		wg         sync.WaitGroup
		mu         sync.Mutex
		firstErr   error
	)
	for range streams {
		wg.Go(func() {
			err := worker(ctx, &got)
			if err == nil || ctx.Err() != nil && (errors.Is(err, context.Canceled) || status.Code(err) == codes.Canceled) {
				return
			}
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
			cancel()
		})
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	atEnd.Store(got.Load())
	cancel()
	wg.Wait()
	return atEnd.Load(), firstErr
}
