package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/parley-chat/parley/gen/helloworld"
	"github.com/parley-chat/parley/gen/helloworld/helloworldconnect"
)

// caller makes one SayHello call.
type caller func(ctx context.Context, name string) error

// clientKind names a client: library/protocol/codec/transport.
type clientKind string

const (
	clientGRPCGo           clientKind = "grpc-go/grpc/proto/h2c"
	clientConnectGRPC      clientKind = "connect-go/grpc/proto/h2c"
	clientConnectProto     clientKind = "connect-go/connect/proto/h2c"
	clientConnectJSON      clientKind = "connect-go/connect/json/h2c"
	clientConnectJSONH1    clientKind = "connect-go/connect/json/http1"
	clientConnectGRPCWebH1 clientKind = "connect-go/grpcweb/proto/http1"
	clientConnectGRPCWeb   clientKind = "connect-go/grpcweb/proto/h2c"
	clientRESTH1           clientKind = "net/http/rest/json/http1"
	// clientGatewayH1 is plain net/http posting the JSON body a browser's
	// fetch would to grpc-gateway's POST /helloworld.Greeter/SayHello.
	clientGatewayH1 clientKind = "net/http/gateway/json/http1"
	// clientVanguardH1 posts the same body to parley-rest's POST /v1/hello.
	clientVanguardH1 clientKind = "net/http/vanguard/json/http1"
	// clientRESTH1Close is clientRESTH1 with DisableKeepAlives: a new TCP
	// connection for every call (the seed's "REST" in "1000 calls").
	clientRESTH1Close clientKind = "net/http/rest/json/http1-close"
)

// dialFunc dials the server; nil means net.Dialer's default.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

func httpClient(h2c bool) *http.Client { return httpClientDial(h2c, nil) }

func httpClientDial(h2c bool, dial dialFunc) *http.Client {
	t := &http.Transport{Protocols: new(http.Protocols), MaxIdleConnsPerHost: 256, DialContext: dial}
	if h2c {
		t.Protocols.SetUnencryptedHTTP2(true)
	} else {
		t.Protocols.SetHTTP1(true)
	}
	return &http.Client{Transport: t}
}

// newCaller builds a client of kind for the server at addr; close releases it.
func newCaller(kind clientKind, addr string) (call caller, closeFn func(), err error) {
	return newCallerDial(kind, addr, nil)
}

// newCallerDial is newCaller with every connection opened by dial (nil:
// the default dialer), so the seed scenario can count bytes on the wire.
func newCallerDial(kind clientKind, addr string, dial dialFunc) (call caller, closeFn func(), err error) {
	base := "http://" + addr
	connectCaller := func(h2c bool, opts ...connect.ClientOption) (caller, func(), error) {
		hc := httpClientDial(h2c, dial)
		// No gzip: the grpc-go, improbable, gateway and REST peers answer
		// uncompressed, so every row compares the stacks, not gzip.
		opts = append(opts, connect.WithAcceptCompression("gzip", nil, nil))
		c := helloworldconnect.NewGreeterClient(hc, base, opts...)
		return func(ctx context.Context, name string) error {
			res, err := c.SayHello(ctx, connect.NewRequest(&helloworld.HelloRequest{Name: name}))
			if err != nil {
				return err
			}
			return checkReply(res.Msg.GetMessage(), name)
		}, hc.CloseIdleConnections, nil
	}
	switch kind {
	case clientGRPCGo:
		dopts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
		if dial != nil {
			dopts = append(dopts, grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) { return dial(ctx, "tcp", a) }))
		}
		conn, err := grpc.NewClient(addr, dopts...)
		if err != nil {
			return nil, nil, err
		}
		return func(ctx context.Context, name string) error {
			out := new(helloworld.HelloReply)
			if err := conn.Invoke(ctx, helloworldconnect.GreeterSayHelloProcedure, &helloworld.HelloRequest{Name: name}, out); err != nil {
				return err
			}
			return checkReply(out.GetMessage(), name)
		}, func() { _ = conn.Close() }, nil
	case clientConnectGRPC:
		return connectCaller(true, connect.WithGRPC())
	case clientConnectProto:
		return connectCaller(true)
	case clientConnectJSON:
		return connectCaller(true, connect.WithProtoJSON())
	case clientConnectJSONH1:
		return connectCaller(false, connect.WithProtoJSON())
	case clientConnectGRPCWebH1:
		return connectCaller(false, connect.WithGRPCWeb())
	case clientConnectGRPCWeb:
		return connectCaller(true, connect.WithGRPCWeb())
	case clientRESTH1, clientRESTH1Close, clientGatewayH1, clientVanguardH1:
		hc := httpClientDial(false, dial)
		hc.Transport.(*http.Transport).DisableKeepAlives = kind == clientRESTH1Close
		url := base + "/hello"
		switch kind {
		case clientGatewayH1:
			url = base + helloworldconnect.GreeterSayHelloProcedure
		case clientVanguardH1:
			url = base + greeterRESTPath
		}
		return func(ctx context.Context, name string) error {
			body, _ := json.Marshal(restHello{Name: name})
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			res, err := hc.Do(req)
			if err != nil {
				return err
			}
			defer func() { _ = res.Body.Close() }() // read only
			if res.StatusCode != http.StatusOK {
				_, _ = io.Copy(io.Discard, res.Body)
				return fmt.Errorf("rest: %s", res.Status)
			}
			var out restHello
			if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, res.Body)
			return checkReply(out.Message, name)
		}, hc.CloseIdleConnections, nil
	}
	return nil, nil, fmt.Errorf("unknown client %q", kind)
}

func checkReply(got, name string) error {
	if len(got) != len(name)+6 {
		return fmt.Errorf("bad reply of %d bytes", len(got))
	}
	return nil
}

// unaryResult is one cell of one round.
type unaryResult struct {
	Round       int
	Peer        string
	Client      clientKind
	Payload     int
	InFlight    int
	Seconds     float64
	Requests    int
	Errors      int64
	RPS         float64
	P50, P99    time.Duration
	CPUPerRPC   float64 // server microseconds
	AllocPerRPC float64
	// ReadsPerRPC and WritesPerRPC are the server's read and write
	// syscalls per call (/proc/PID/io; -1 where unknown).
	ReadsPerRPC, WritesPerRPC float64
	Load1                     float64
}

// runUnary drives call closed-loop with inFlight workers for d, after a
// short warm-up, and reads the server's CPU, mallocs and syscalls around
// it.
func runUnary(c *child, kind clientKind, payload, inFlight int, d time.Duration) (unaryResult, error) {
	call, closeFn, err := newCaller(kind, c.addr)
	if err != nil {
		return unaryResult{}, err
	}
	defer closeFn()
	name := strings.Repeat("x", payload)
	// Warm-up: connections, pools, JIT-free but caches and GC pacing.
	if _, _, err := loop(call, name, inFlight, d/5); err != nil {
		return unaryResult{}, fmt.Errorf("%s via %s: %w", c.name, kind, err)
	}
	var (
		lats    []time.Duration
		errs    int64
		elapsed time.Duration
	)
	used, err := c.measure(func() (err error) {
		start := time.Now()
		lats, errs, err = loop(call, name, inFlight, d)
		elapsed = time.Since(start)
		return err
	})
	if err != nil {
		return unaryResult{}, fmt.Errorf("%s via %s: %w", c.name, kind, err)
	}
	slices.Sort(lats)
	n := int64(len(lats))
	r := unaryResult{
		Peer: c.name, Client: kind, Payload: payload, InFlight: inFlight,
		Seconds: elapsed.Seconds(), Requests: int(n), Errors: errs,
		RPS:         float64(n) / elapsed.Seconds(),
		P50:         quantile(lats, 0.50),
		P99:         quantile(lats, 0.99),
		CPUPerRPC:   used.cpuPer(n),
		AllocPerRPC: used.allocsPer(n),
		ReadsPerRPC: used.readsPer(n), WritesPerRPC: used.writesPer(n),
		Load1: loadavg(),
	}
	return r, nil
}

// loop runs inFlight workers calling call until d has passed. Any error
// fails the run: a benchmark of errors measures nothing.
func loop(call caller, name string, inFlight int, d time.Duration) ([]time.Duration, int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		all      []time.Duration
		errs     atomic.Int64
		firstErr atomic.Value
	)
	for range inFlight {
		wg.Go(func() {
			lats := make([]time.Duration, 0, 4096)
			for ctx.Err() == nil {
				t := time.Now()
				err := call(context.Background(), name) //nolint:contextcheck // a call in flight when the run ends must finish, not count as an error
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
					if errs.Load() > 10 {
						cancel()
					}
					continue
				}
				lats = append(lats, time.Since(t))
			}
			mu.Lock()
			all = append(all, lats...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if e, ok := firstErr.Load().(error); ok {
		return all, errs.Load(), e
	}
	return all, 0, nil
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return sorted[i]
}
