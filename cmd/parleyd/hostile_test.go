package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/parley-chat/parley/gen/helloworld"
	"github.com/parley-chat/parley/gen/helloworld/helloworldconnect"
	"github.com/parley-chat/parley/inmem"
	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/server"
	"github.com/parley-chat/parley/sqlite"
)

// The hostile tests attack parleyd's production wiring (server.New behind
// server.NewHTTPServer, served as run serves it) on real sockets with raw HTTP/2
// frames and raw bodies. Each asserts that the attacker is cut off or
// refused with the right code, that handlers and heap stay bounded, and
// that a well-behaved client on another connection is unaffected; each
// logs the bound it measured. docs/ROBUSTNESS.md summarizes them. None runs
// in parallel: each measures the heap of the whole process.

// hostileTarget is one running parleyd.
type hostileTarget struct {
	addr      string
	tls       bool
	clientTLS *tls.Config
	hs        *http.Server
	handlers  gauge
}

// hostileOption adjusts the target before it serves: the only knob is
// ReadHeaderTimeout, shortened so slowloris tests take seconds.
type hostileOption func(*http.Server)

func withReadHeaderTimeout(d time.Duration) hostileOption {
	return func(hs *http.Server) { hs.ReadHeaderTimeout = d }
}

func startTarget(t *testing.T, useTLS bool, serverOpts []server.Option, opts ...hostileOption) *hostileTarget {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	logger := slog.New(slog.DiscardHandler)
	handler := server.New(store, inmem.NewBroker(), append([]server.Option{server.WithLogger(logger)}, serverOpts...)...)
	tg := &hostileTarget{tls: useTLS}
	hs := server.NewHTTPServer(tg.handlers.wrap(handler), useTLS, logger)
	hs.RegisterOnShutdown(handler.Drain)
	for _, opt := range opts {
		opt(hs)
	}
	tg.hs = hs
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tg.addr = ln.Addr().String()
	ln = server.BufferConnections(ln) // as run wires it (--buffer-connections)
	var certFile, keyFile string
	if useTLS {
		var pool *x509.CertPool
		certFile, keyFile, pool = testserver.SelfSignedCert(t)
		tg.clientTLS = &tls.Config{RootCAs: pool, NextProtos: []string{"h2"}}
	}
	go func() {
		// As run serves: ServeTLS with the certificate files, or Serve.
		if useTLS {
			_ = hs.ServeTLS(ln, certFile, keyFile)
		} else {
			_ = hs.Serve(ln)
		}
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
	})
	return tg
}

func (tg *hostileTarget) clientTLSConfig() *tls.Config {
	if tg.clientTLS == nil {
		return nil
	}
	return tg.clientTLS.Clone()
}

func (tg *hostileTarget) baseURL() string {
	if tg.tls {
		return "https://" + tg.addr
	}
	return "http://" + tg.addr
}

// httpClient speaks HTTP/2 (h2c or TLS), or HTTP/1.1 when http1 is set.
func (tg *hostileTarget) httpClient(http1 bool) *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols), TLSClientConfig: tg.clientTLSConfig()}
	switch {
	case http1:
		tr.Protocols.SetHTTP1(true)
		if tr.TLSClientConfig != nil {
			tr.TLSClientConfig.NextProtos = nil
		}
	case tg.tls:
		tr.Protocols.SetHTTP2(true)
	default:
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	return &http.Client{Transport: tr}
}

// checkHealthy makes a call on a fresh connection, as a bystander would,
// and fails unless it succeeds promptly.
func (tg *hostileTarget) checkHealthy(t *testing.T, when string) {
	t.Helper()
	client := tg.httpClient(false)
	defer client.CloseIdleConnections()
	greeter := helloworldconnect.NewGreeterClient(client, tg.baseURL(), connect.WithGRPC())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	res, err := greeter.SayHello(ctx, connect.NewRequest(&helloworld.HelloRequest{Name: "bystander"}))
	if err != nil {
		t.Fatalf("well-behaved client %s: %v", when, err)
	}
	if res.Msg.GetMessage() != "Hello bystander" {
		t.Fatalf("well-behaved client %s: got %q", when, res.Msg.GetMessage())
	}
	if d, limit := time.Since(start), timeBound(2*time.Second); d > limit {
		t.Fatalf("well-behaved client %s: took %v, want at most %v", when, d, limit)
	} else {
		t.Logf("well-behaved client %s: OK in %v", when, d.Round(time.Microsecond))
	}
}

// gauge counts handlers in flight and remembers the most at once.
type gauge struct{ cur, peak, total atomic.Int64 }

func (g *gauge) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := g.cur.Add(1)
		g.total.Add(1)
		for p := g.peak.Load(); n > p && !g.peak.CompareAndSwap(p, n); p = g.peak.Load() { //nolint:revive // a compare-and-swap loop: the work is in the condition
		}
		defer g.cur.Add(-1)
		h.ServeHTTP(w, r)
	})
}

// heapWatch samples the live heap every few milliseconds and reports the
// peak above the baseline taken at its start.
type heapWatch struct {
	base uint64
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

func watchHeap() *heapWatch {
	w := &heapWatch{base: heapBytes(), stop: make(chan struct{}), done: make(chan struct{})}
	w.peak.Store(w.base)
	go func() {
		defer close(w.done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
				if h := heapBytes(); h > w.peak.Load() {
					w.peak.Store(h)
				}
			}
		}
	}()
	return w
}

// delta stops the watch and returns the peak heap growth in bytes.
func (w *heapWatch) delta() int64 {
	close(w.stop)
	<-w.done
	return int64(w.peak.Load()) - int64(w.base)
}

func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

const mib = 1 << 20

// checkBounds asserts and logs the bounds every attack must respect.
func checkBounds(t *testing.T, tg *hostileTarget, heap *heapWatch, maxHeap int64) {
	t.Helper()
	delta := heap.delta()
	peak := tg.handlers.peak.Load()
	t.Logf("bound: peak heap delta %.1f MiB (limit %d MiB), peak handlers %d of %d requests (limit %d)",
		float64(delta)/mib, maxHeap/mib, peak, tg.handlers.total.Load(), tg.hs.HTTP2.MaxConcurrentStreams)
	if delta > maxHeap {
		t.Errorf("heap grew by %.1f MiB, want at most %d MiB", float64(delta)/mib, maxHeap/mib)
	}
	if peak > int64(tg.hs.HTTP2.MaxConcurrentStreams) {
		t.Errorf("%d handlers ran at once, want at most %d", peak, tg.hs.HTTP2.MaxConcurrentStreams)
	}
}

// h2Conn is a raw HTTP/2 client connection: the preface and SETTINGS are
// sent, a goroutine reads every frame the server sends and records the
// GOAWAY, if any, and when the connection ended.
type h2Conn struct {
	net.Conn
	fr      *http2.Framer
	enc     *hpack.Encoder
	hbuf    bytes.Buffer
	closed  chan struct{}
	mu      sync.Mutex
	goAway  *http2.GoAwayFrame
	readErr error
	frames  atomic.Int64
}

func dialH2(t *testing.T, tg *hostileTarget) *h2Conn {
	t.Helper()
	var conn net.Conn
	var err error
	if tg.tls {
		conn, err = tls.Dial("tcp", tg.addr, tg.clientTLSConfig())
	} else {
		conn, err = net.Dial("tcp", tg.addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	c := &h2Conn{Conn: conn, fr: http2.NewFramer(conn, nil), closed: make(chan struct{})}
	c.enc = hpack.NewEncoder(&c.hbuf)
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := c.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	go c.readLoop(http2.NewFramer(nil, conn))
	return c
}

func (c *h2Conn) readLoop(fr *http2.Framer) {
	defer close(c.closed)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			c.mu.Unlock()
			return
		}
		c.frames.Add(1)
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			c.mu.Lock()
			c.goAway = ga
			c.mu.Unlock()
		}
	}
}

// headerBlock encodes a request's header block for stream-less use.
func (c *h2Conn) headerBlock(tg *hostileTarget, path string, extra ...string) []byte {
	c.hbuf.Reset()
	scheme := "http"
	if tg.tls {
		scheme = "https"
	}
	fields := []string{":method", "POST", ":scheme", scheme, ":authority", tg.addr, ":path", path,
		"content-type", "application/proto"}
	fields = append(fields, extra...)
	for i := 0; i < len(fields); i += 2 {
		_ = c.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return bytes.Clone(c.hbuf.Bytes())
}

// waitClosed waits for the server to end the connection and returns the
// GOAWAY error code it sent (or -1 for none).
func (c *h2Conn) waitClosed(t *testing.T, within time.Duration) (http2.ErrCode, bool) {
	t.Helper()
	select {
	case <-c.closed:
	case <-time.After(within):
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.goAway == nil {
		return http2.ErrCode(^uint32(0)), true
	}
	return c.goAway.ErrCode, true
}

func (c *h2Conn) goAwayCode() (http2.ErrCode, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.goAway == nil {
		return 0, false
	}
	return c.goAway.ErrCode, true
}

var sayHello = helloworldconnect.GreeterSayHelloProcedure

// forEachTransport runs the attack over h2c and over TLS.
func forEachTransport(t *testing.T, attack func(t *testing.T, useTLS bool)) {
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"h2c", false}, {"tls", true}} {
		t.Run(tc.name, func(t *testing.T) { attack(t, tc.tls) })
	}
}

// TestHostileRapidReset opens streams and resets them at once, 20,000
// times on one connection (CVE-2023-44487).
func TestHostileRapidReset(t *testing.T) {
	forEachTransport(t, func(t *testing.T, useTLS bool) {
		tg := startTarget(t, useTLS, nil)
		tg.checkHealthy(t, "before")
		heap := watchHeap()
		c := dialH2(t, tg)
		block := c.headerBlock(tg, sayHello)
		const attempts = 20000
		sent := 0
		for id := uint32(1); sent < attempts; id += 2 {
			if c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndHeaders: true}) != nil {
				break
			}
			if c.fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
				break
			}
			sent++
		}
		tg.checkHealthy(t, "during")
		code, hasGoAway := c.goAwayCode()
		outcome := "connection kept"
		if hasGoAway {
			outcome = "GOAWAY " + code.String()
		}
		t.Logf("bound: %d HEADERS+RST_STREAM pairs sent, %d requests reached the handler; %s",
			sent, tg.handlers.total.Load(), outcome)
		if hasGoAway && code != http2.ErrCodeEnhanceYourCalm && code != http2.ErrCodeNo {
			t.Errorf("GOAWAY %v, want ENHANCE_YOUR_CALM", code)
		}
		_ = c.Close()
		checkBounds(t, tg, heap, 64*mib)
		tg.checkHealthy(t, "after")
	})
}

// TestHostileContinuationFlood sends one HEADERS frame without END_HEADERS
// and then CONTINUATION frames without end (CVE-2023-45288): the server must
// stop reading at its header limit (64 KiB) and close the connection.
func TestHostileContinuationFlood(t *testing.T) {
	forEachTransport(t, func(t *testing.T, useTLS bool) {
		tg := startTarget(t, useTLS, nil)
		heap := watchHeap()
		c := dialH2(t, tg)
		block := c.headerBlock(tg, sayHello)
		if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block}); err != nil {
			t.Fatal(err)
		}
		c.hbuf.Reset()
		_ = c.enc.WriteField(hpack.HeaderField{Name: "x-flood", Value: string(bytes.Repeat([]byte("a"), 8000))})
		junk := bytes.Clone(c.hbuf.Bytes())
		const budget = 256 * mib
		var written int64
		for written < budget {
			if err := c.fr.WriteContinuation(1, false, junk); err != nil {
				break
			}
			written += int64(len(junk)) + 9
		}
		code, closed := c.waitClosed(t, 10*time.Second)
		t.Logf("bound: %.1f KiB of CONTINUATION written before the server closed the connection (GOAWAY %v); handlers reached: %d",
			float64(written)/1024, code, tg.handlers.total.Load())
		if !closed || written >= budget {
			t.Fatalf("server accepted %d MiB of CONTINUATION without closing the connection", written/mib)
		}
		if tg.handlers.total.Load() != 0 {
			t.Errorf("a handler ran for an incomplete header block")
		}
		checkBounds(t, tg, heap, 64*mib)
		tg.checkHealthy(t, "after")
	})
}

// TestHostileControlFrameFlood sends SETTINGS or PING frames without ever
// reading the acknowledgements. PING acknowledgements queue up on the
// server, which must drop the connection once the queue is full (Go keeps
// at most 10,000 control frames). SETTINGS acknowledgements do not queue:
// Go coalesces them and owes at most one, so the connection may stay and
// only its memory and its neighbors are asserted.
func TestHostileControlFrameFlood(t *testing.T) {
	for _, tc := range []struct {
		kind         string
		budget       int
		mustBeClosed bool
	}{
		{"settings", 200_000, false},
		{"ping", 2_000_000, true},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			forEachTransport(t, func(t *testing.T, useTLS bool) {
				tg := startTarget(t, useTLS, nil)
				heap := watchHeap()
				conn, err := dialRaw(tg, "h2")
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				fr := http2.NewFramer(conn, nil)
				if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
					t.Fatal(err)
				}
				// Nobody reads: whatever the server answers piles up.
				var sent atomic.Int64
				var writeErr error
				done := make(chan struct{})
				go func() {
					defer close(done)
					for sent.Load() < int64(tc.budget) {
						if tc.kind == "settings" {
							writeErr = fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 65535})
						} else {
							writeErr = fr.WritePing(false, [8]byte{byte(sent.Load())})
						}
						if writeErr != nil {
							return
						}
						sent.Add(1)
					}
				}()
				time.Sleep(100 * time.Millisecond)
				tg.checkHealthy(t, "during")
				select {
				case <-done:
				case <-time.After(60 * time.Second):
					t.Fatalf("still writing after 60s (%d frames)", sent.Load())
				}
				closed := writeErr != nil
				t.Logf("bound: %d %s frames written; connection closed by the server: %v (%v)", sent.Load(), tc.kind, closed, writeErr)
				if tc.mustBeClosed && !closed {
					t.Errorf("server took %d unacknowledged %s frames without closing", sent.Load(), tc.kind)
				}
				checkBounds(t, tg, heap, 64*mib)
				tg.checkHealthy(t, "after")
			})
		})
	}
}

// dialRaw connects; over TLS it offers only the given ALPN protocol.
func dialRaw(tg *hostileTarget, alpn string) (net.Conn, error) {
	if tg.tls {
		config := tg.clientTLSConfig()
		config.NextProtos = []string{alpn}
		return tls.Dial("tcp", tg.addr, config)
	}
	return net.Dial("tcp", tg.addr)
}

// TestHostileSlowloris trickles a request's first bytes, one every 100ms,
// on many connections: HTTP/1.1 headers, and the HTTP/2 preface on the h2c
// port (GO-2026-6089). ReadHeaderTimeout, shortened here from parleyd's
// 10s to 1s, must close each connection, and a well-behaved client must
// be served meanwhile.
func TestHostileSlowloris(t *testing.T) {
	const timeout = time.Second
	for _, tc := range []struct {
		name   string
		tls    bool
		prefix string
	}{
		{"http1", false, "POST /helloworld.Greeter/SayHello HTTP/1.1\r\nHost: parley\r\nX-Slow: "},
		{"h2c-preface", false, http2.ClientPreface},
		{"tls-http1", true, "POST /helloworld.Greeter/SayHello HTTP/1.1\r\nHost: parley\r\nX-Slow: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := startTarget(t, tc.tls, nil, withReadHeaderTimeout(timeout))
			heap := watchHeap()
			const conns = 100
			var wg sync.WaitGroup
			lasted := make([]time.Duration, conns)
			written := make([]int, conns)
			for i := range conns {
				conn, err := dialRaw(tg, "http/1.1")
				if err != nil {
					t.Fatal(err)
				}
				wg.Go(func() {
					defer conn.Close()
					start := time.Now()
					payload := tc.prefix + string(bytes.Repeat([]byte("x"), 200))
					if tc.name == "h2c-preface" {
						payload = tc.prefix[:len(tc.prefix)-1]
					}
					for j := 0; j < len(payload) && time.Since(start) < 10*timeout; j++ {
						if _, err := conn.Write([]byte{payload[j]}); err != nil {
							break
						}
						written[i]++
						time.Sleep(100 * time.Millisecond)
					}
					// Closed by the server: a read sees EOF or a reset
					// (HTTP/1.1 may first answer 408).
					_ = conn.SetReadDeadline(time.Now().Add(10 * timeout))
					_, _ = io.Copy(io.Discard, conn)
					lasted[i] = time.Since(start)
				})
			}
			time.Sleep(timeout / 2)
			tg.checkHealthy(t, "during")
			wg.Wait()
			var longest time.Duration
			most := 0
			for i := range conns {
				longest = max(longest, lasted[i])
				most = max(most, written[i])
			}
			t.Logf("bound: %d slow connections, each closed after at most %v (timeout %v), at most %d bytes accepted",
				conns, longest.Round(time.Millisecond), timeout, most)
			if longest > timeBound(3*timeout) {
				t.Errorf("a slow connection lasted %v, want about %v (at most %v)", longest, timeout, timeBound(3*timeout))
			}
			checkBounds(t, tg, heap, 64*mib)
			tg.checkHealthy(t, "after")
		})
	}
}
