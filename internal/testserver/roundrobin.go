package testserver

import (
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"
)

// RoundRobin is an HTTP reverse proxy in front of several servers (the
// replicas of one database) that sends each request to the next of them in
// turn, as a load balancer that balances requests rather than connections
// does: consecutive calls of one client, even on one connection, reach
// different replicas. It speaks HTTP/1.1 and h2c to clients, h2c to the
// replicas, and passes streams through as they flow, in both directions
// over h2c.
type RoundRobin struct {
	// URL is where clients reach the proxy: http://127.0.0.1:PORT.
	URL string

	backends []*url.URL
	mu       sync.Mutex
	next     int
	served   map[string]int // backend host -> requests
}

// StartRoundRobin starts a RoundRobin in front of the servers at
// backendURLs (http:// URLs), closed when the test ends.
func StartRoundRobin(tb testing.TB, backendURLs ...string) *RoundRobin {
	tb.Helper()
	rr := &RoundRobin{served: map[string]int{}}
	for _, s := range backendURLs {
		u, err := url.Parse(s)
		if err != nil {
			tb.Fatalf("backend %q: %v", s, err)
		}
		rr.backends = append(rr.backends, u)
	}
	h2c := &http.Transport{Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(rr.pick())
			pr.Out.Host = pr.In.Host // as the browser addressed it: origins and cookies stay the proxy's
		},
		Transport:     h2c,
		FlushInterval: -1,                         // every write of a stream at once
		ErrorLog:      log.New(io.Discard, "", 0), // a client gone mid-stream is no news
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: proxy, Protocols: new(http.Protocols), ReadHeaderTimeout: 10 * time.Second}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() {
		_ = srv.Close()
		h2c.CloseIdleConnections()
	})
	rr.URL = "http://" + ln.Addr().String()
	return rr
}

func (rr *RoundRobin) pick() *url.URL {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	u := rr.backends[rr.next%len(rr.backends)]
	rr.next++
	rr.served[u.Host]++
	return u
}

// Served returns how many requests each backend got, by its host:port.
func (rr *RoundRobin) Served() map[string]int {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return maps.Clone(rr.served)
}
