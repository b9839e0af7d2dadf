package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"github.com/improbable-eng/grpc-web/go/grpcweb"
	"google.golang.org/grpc"

	benchv1 "github.com/parley-chat/parley/bench/gen/bench/v1"
	"github.com/parley-chat/parley/bench/gen/bench/v1/benchv1connect"
	"github.com/parley-chat/parley/disk"
	"github.com/parley-chat/parley/gen/helloworld"
	"github.com/parley-chat/parley/gen/helloworld/helloworldconnect"
	"github.com/parley-chat/parley/inmem"
	"github.com/parley-chat/parley/metrics"
	"github.com/parley-chat/parley/server"
	"github.com/parley-chat/parley/sqlite"
)

// peerEnv names the peer a re-executed bench binary serves. The parent
// starts every server as a child process so its CPU time and allocations
// are its own, not the loader's.
const peerEnv = "PARLEY_BENCH_PEER"

// profileEnv, when set to a path prefix, makes every peer write a CPU
// profile to PREFIX.<peer>.pprof when it exits. Profiling costs CPU: do not
// compare figures from a profiled run.
const profileEnv = "PARLEY_BENCH_CPUPROFILE"

// metricsEnv, set to 1, turns Parley's Prometheus metrics on in the parley
// peers (docs/BENCHMARKS.md, metrics overhead).
const metricsEnv = "PARLEY_BENCH_METRICS"

// heapProfileEnv, when set to a path prefix, makes every peer write a heap
// profile to PREFIX.<peer>.<n>.pprof at each "mem" request (after its GCs),
// n counting from 1: what the memory per idle subscriber is made of.
const heapProfileEnv = "PARLEY_BENCH_HEAPPROFILE"

// Peer names.
const (
	peerGRPCNative = "grpc-go-native"
	peerGRPCServe  = "grpc-go-servehttp"
	peerConnectMin = "connect-min"
	peerParley     = "parley"
	// peerParleyNoLog is Parley with slog.DiscardHandler instead of the
	// default logger (a TextHandler on io.Discard, which still formats every
	// line): what the proposed one-line change in server/option.go gains.
	peerParleyNoLog = "parley-discardhandler"
	peerREST        = "rest-json"
	peerImprobable  = "improbable-grpcweb"
)

// sayHello is the one handler body every peer runs.
func sayHello(name string) string { return "Hello " + name }

// grpcGreeter is the grpc-go service, registered by hand over the same
// generated messages so no second helloworld descriptor is linked in.
type grpcGreeter interface {
	SayHello(context.Context, *helloworld.HelloRequest) (*helloworld.HelloReply, error)
}

type greeterImpl struct{}

func (greeterImpl) SayHello(_ context.Context, req *helloworld.HelloRequest) (*helloworld.HelloReply, error) {
	return &helloworld.HelloReply{Message: sayHello(req.GetName())}, nil
}

var greeterDesc = grpc.ServiceDesc{
	ServiceName: "helloworld.Greeter",
	HandlerType: (*grpcGreeter)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "SayHello",
		Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			in := new(helloworld.HelloRequest)
			if err := dec(in); err != nil {
				return nil, err
			}
			return srv.(grpcGreeter).SayHello(ctx, in)
		},
	}},
	Metadata: "helloworld.proto",
}

type connectGreeter struct{}

func (connectGreeter) SayHello(_ context.Context, req *connect.Request[helloworld.HelloRequest]) (*connect.Response[helloworld.HelloReply], error) {
	return connect.NewResponse(&helloworld.HelloReply{Message: sayHello(req.Msg.GetName())}), nil
}

type restHello struct {
	Name    string `json:"name,omitempty"`
	Message string `json:"message,omitempty"`
}

func serveREST(w http.ResponseWriter, r *http.Request) {
	var in restHello
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(restHello{Message: sayHello(in.Name)})
}

// h2cServer is a stdlib server speaking HTTP/1.1 and h2c, the way the
// minimal peers are usually deployed.
func h2cServer(h http.Handler) *http.Server {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &http.Server{Handler: h, Protocols: p, ErrorLog: log.New(io.Discard, "", 0), ReadHeaderTimeout: 10 * time.Second}
}

// runPeer serves one peer on a loopback port, prints "ADDR host:port" and
// answers "stats" / "mem" lines on stdin, and the peer's own commands, until
// stdin closes.
func runPeer(name string) error {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	serve := func(s *http.Server) { go func() { _ = s.Serve(lis) }() }
	var cmds peerCommands
	switch name {
	case peerGRPCNative:
		g := grpc.NewServer()
		g.RegisterService(&greeterDesc, greeterImpl{})
		benchv1.RegisterBenchServiceServer(g, grpcBench{})
		go func() { _ = g.Serve(lis) }()
	case peerGRPCServe:
		g := grpc.NewServer()
		g.RegisterService(&greeterDesc, greeterImpl{})
		serve(h2cServer(g))
	case peerImprobable:
		g := grpc.NewServer()
		g.RegisterService(&greeterDesc, greeterImpl{})
		serve(h2cServer(grpcweb.WrapServer(g)))
	case peerConnectMin:
		mux := http.NewServeMux()
		// Same compression policy as Parley (server.handlerOptions): by
		// default connect-go gzips every response the client accepts gzip
		// for, which would measure gzip rather than the stack.
		mux.Handle(helloworldconnect.NewGreeterHandler(connectGreeter{}, connect.WithCompressMinBytes(1024)))
		mux.Handle(benchv1connect.NewBenchServiceHandler(connectBench{}, connect.WithCompressMinBytes(1024)))
		serve(h2cServer(mux))
	case peerGateway:
		if err := serveGateway(lis); err != nil {
			return err
		}
	case peerREST:
		mux := http.NewServeMux()
		mux.HandleFunc("POST /hello", serveREST)
		serve(h2cServer(mux))
	case peerParley, peerParleyNoLog, peerParleyREST:
		h, closeFn, err := newParley(name)
		if err != nil {
			return err
		}
		defer closeFn()
		if name == peerParleyREST {
			if h, err = greeterREST(h); err != nil {
				return err
			}
		}
		// parleyd's listener wiring: buffered connections.
		hs := server.NewHTTPServer(h, false, slog.New(slog.DiscardHandler))
		go func() { _ = hs.Serve(server.BufferConnections(lis)) }()
	case peerFloorHTTP:
		cmds = serveFloorHTTP(lis)
	case peerFloorTCP:
		cmds = serveFloorTCP(lis)
	case peerSQLiteAppend:
		var closeFn func()
		if cmds, closeFn, err = newSQLiteFloor(); err != nil {
			return err
		}
		defer closeFn()
	default:
		return fmt.Errorf("unknown peer %q", name)
	}
	if path := os.Getenv(profileEnv); path != "" {
		f, err := os.Create(path + "." + name + ".pprof")
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	fmt.Printf("ADDR %s\n", lis.Addr())
	sc := bufio.NewScanner(os.Stdin)
	heapProfiles := 0
	for sc.Scan() {
		switch sc.Text() {
		case "stats":
			var ru syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			fmt.Printf("STATS %d %d\n", cpu.Microseconds(), ms.Mallocs)
		case "mem":
			runtime.GC()
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if path := os.Getenv(heapProfileEnv); path != "" {
				heapProfiles++
				if err := writeHeapProfile(fmt.Sprintf("%s.%s.%d.pprof", path, name, heapProfiles)); err != nil {
					return err
				}
			}
			fmt.Printf("MEM %d %d %d\n", ms.HeapInuse, ms.StackInuse, runtime.NumGoroutine())
		default:
			answer, ok, err := cmds.run(sc.Text())
			if err != nil {
				return err
			}
			if ok {
				fmt.Println(answer)
			}
		}
	}
	return nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// newParley returns Parley's handler as the parley peers serve it, on a
// SQLite store and disk files in a temporary directory that closeFn
// removes.
func newParley(name string) (h http.Handler, closeFn func(), err error) {
	dir, err := os.MkdirTemp("", "parley-bench-")
	if err != nil {
		return nil, nil, err
	}
	// PARLEY_BENCH_METRICS=1 turns the Prometheus metrics on, as
	// parleyd's admin listener does (nobody scrapes them here).
	var m *metrics.Metrics
	var sqliteOpts []sqlite.Option
	if os.Getenv(metricsEnv) == "1" {
		m = metrics.New("sqlite")
		sqliteOpts = append(sqliteOpts, sqlite.WithObserver(m.Observer()))
	}
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "parley.db"), sqliteOpts...)
	if err != nil {
		_ = os.RemoveAll(dir) // a temporary directory
		return nil, nil, err
	}
	closeFn = func() {
		_ = store.Close()     // the peer is exiting
		_ = os.RemoveAll(dir) // a temporary directory
	}
	blobs, err := disk.New(filepath.Join(dir, "files"))
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	// server.WithLogger defaults to discarding logs: logging is off.
	// The bench service is mounted for the stream scenario; it is one
	// more route and does not touch Parley's own services. Rate limits
	// are off: one user sends thousands of messages a second here.
	opts := []server.Option{server.WithFiles(store, blobs), server.WithService(mountBench), server.WithLimits(server.Limits{})}
	if name == peerParleyNoLog {
		opts = append(opts, server.WithLogger(slog.New(slog.DiscardHandler)))
	}
	if m != nil {
		opts = append(opts, m.ServerOptions()...)
	}
	return server.New(store, inmem.NewBroker(), opts...), closeFn, nil
}
