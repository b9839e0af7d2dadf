package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/parley-chat/parley/metrics"
	"github.com/parley-chat/parley/server"
)

// listenAdmin opens the admin listener, refusing an address that is not
// loopback unless public: what it serves (metrics, profiles) is for
// operators, never for the public port's clients.
func listenAdmin(addr string, public bool) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() && !public {
		_ = ln.Close() // the refusal is the error to report
		return nil, fmt.Errorf("--admin-addr %s is not a loopback address: metrics and profiles would be reachable from the network; give --admin-public (PARLEY_ADMIN_PUBLIC) to allow it", addr)
	}
	return ln, nil
}

// adminHandler serves the admin listener: the metrics, net/http/pprof's
// profiles and the Kubernetes probes. /livez answers 200 while the process
// serves HTTP; /readyz follows gRPC health: 503 while draining or while the
// store is unreachable or full.
func adminHandler(m *metrics.Metrics, health func() server.Health) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		h := health()
		switch {
		case h.Draining:
			http.Error(w, "not ready: shutting down", http.StatusServiceUnavailable)
		case h.StoreUnreachable:
			http.Error(w, "not ready: database unreachable", http.StatusServiceUnavailable)
		case h.StoreFull:
			http.Error(w, "not ready: storage full", http.StatusServiceUnavailable)
		default:
			_, _ = io.WriteString(w, "ok\n")
		}
	})
	return mux
}

// newAdminServer is the admin listener's http.Server. No write timeout:
// a CPU profile or trace streams for as long as asked (?seconds=).
func newAdminServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
}
