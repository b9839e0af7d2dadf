package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/parley-chat/parley/gen/helloworld"
	"github.com/parley-chat/parley/gen/helloworld/helloworldconnect"
	"github.com/parley-chat/parley/internal/testserver"
)

// The tests of lock-out without an account: connections that trickle a
// body, more connections than a client should hold, and X-Forwarded-For
// from whom it may come. Each runs a real parleyd process (startChild).

// openFiles is how many file descriptors process pid has open, not
// counting the database's (openFileNames).
func openFiles(t *testing.T, pid int) int {
	t.Helper()
	return len(openFileNames(t, pid))
}

// openFileNames are what process pid's file descriptors point to, but for
// the SQLite database's files (each connection of the pool opens them, and
// the pool keeps what a burst of calls opened).
func openFileNames(t *testing.T, pid int) []string {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fd := range fds {
		name, err := os.Readlink(dir + "/" + fd.Name())
		if err == nil && !strings.Contains(name, "/parley.db") {
			names = append(names, name)
		}
	}
	return names
}

// hostOf is the host:port of a parleyd URL.
func hostOf(url string) string {
	_, host, _ := strings.Cut(url, "://")
	return host
}

// sayHelloFrom makes one SayHello on a fresh h2c connection from the local
// address ip and returns how long it took.
func sayHelloFrom(t *testing.T, url, ip string) (time.Duration, error) {
	t.Helper()
	c := testserver.H2C(url).From(ip)
	defer c.Client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := helloworldconnect.NewGreeterClient(c.Client, url).SayHello(ctx, connect.NewRequest(&helloworld.HelloRequest{Name: "fresh"}))
	return time.Since(start), err
}

// trickleHeader is an HTTP/1.1 SayHello announcing a 100-byte body.
func trickleHeader(host string) string {
	return "POST " + sayHello + " HTTP/1.1\r\nHost: " + host +
		"\r\nContent-Type: application/proto\r\nContent-Length: 100\r\n\r\n"
}

// TestHostileTricklingConnections opens 20,000 HTTP/1.1 connections from
// 127.0.0.1, each sending SayHello's headers, Content-Length: 100 and one
// byte of the body, as issue 14's attack did (it took parleyd to its open
// file limit). The per-address cap (256) refuses all but 256 of them, at
// accept; a fresh client from 127.0.0.2 is answered within 1 s during the
// attack and after it; the server's open files stay near its baseline plus
// the 256. (TestHostileTricklingBody shows the body timeout ending such
// connections.)
func TestHostileTricklingConnections(t *testing.T) {
	const (
		attempts   = 20_000
		perAddress = 256
		workers    = 64
	)
	// The body timeout would cut the held connections 10 s in (under -race
	// the attack can take that long); here only the cap is measured.
	cmd, url := startChild(t, t.TempDir(), "--max-connections-per-ip", fmt.Sprint(perAddress), "--body-timeout", "1m")
	pid := cmd.Process.Pid
	host := hostOf(url)
	if _, err := sayHelloFrom(t, url, "127.0.0.2"); err != nil {
		t.Fatal(err)
	}
	baseline := openFiles(t, pid)
	header := trickleHeader(host) + "x"

	var (
		mu       sync.Mutex
		held     []net.Conn // accepted, as far as a short read could tell
		refused  atomic.Int64
		dialErrs atomic.Int64
		dialErr  atomic.Value // the first
		next     atomic.Int64
		peakFDs  atomic.Int64
	)
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.1")}, Timeout: 5 * time.Second}
	// attack dials until attempts connections have been tried.
	attack := func() {
		for next.Add(1) <= attempts {
			c, err := dialer.Dial("tcp", host)
			switch {
			case errors.Is(err, syscall.ECONNRESET):
				refused.Add(1) // reset before the handshake was done, on loopback
				continue
			case err != nil:
				dialErrs.Add(1)
				dialErr.CompareAndSwap(nil, err.Error())
				continue
			}
			_, err = io.WriteString(c, header)
			if err == nil {
				// A refused connection is reset at accept; an accepted one
				// waits for the rest of its body.
				_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
				_, err = c.Read(make([]byte, 1))
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				mu.Lock()
				held = append(held, c)
				mu.Unlock()
				continue
			}
			refused.Add(1)
			_ = c.Close()
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(attack)
	}
	// A fresh client from another address, while the attack runs.
	var during []time.Duration
	for next.Load() < attempts {
		time.Sleep(500 * time.Millisecond)
		took, err := sayHelloFrom(t, url, "127.0.0.2")
		if err != nil {
			t.Errorf("fresh client during the attack: %v", err)
		}
		during = append(during, took)
		peakFDs.Store(max(peakFDs.Load(), int64(openFiles(t, pid))))
	}
	wg.Wait()
	attackTook := time.Since(start)
	after, err := sayHelloFrom(t, url, "127.0.0.2")
	if err != nil {
		t.Errorf("fresh client after the attack: %v", err)
	}
	duringFDs := openFiles(t, pid)

	// Some connections taken for held may have been refused late.
	stillOpen := 0
	for _, c := range held {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			stillOpen++
		} else {
			refused.Add(1)
		}
		_ = c.Close()
	}
	slowest := after
	for _, d := range during {
		slowest = max(slowest, d)
	}
	t.Logf("%d connections from 127.0.0.1 in %v: %d accepted and held, %d refused at accept, %d dials failed (%v)",
		attempts, attackTook.Round(time.Millisecond), stillOpen, refused.Load(), dialErrs.Load(), dialErr.Load())
	t.Logf("fresh client from 127.0.0.2: %d SayHellos during the attack, slowest %v; after it %v (bound %v)",
		len(during), slowest.Round(time.Millisecond), after.Round(time.Millisecond), timeBound(time.Second))
	t.Logf("server open files: %d before, at most %d during the attack, %d at its end", baseline, max(peakFDs.Load(), int64(duringFDs)), duringFDs)
	if dialErrs.Load() > 0 {
		t.Errorf("%d dials failed otherwise than by a reset: %v", dialErrs.Load(), dialErr.Load())
	}
	if stillOpen != perAddress {
		t.Errorf("%d connections from one address held open, want the cap, %d", stillOpen, perAddress)
	}
	if slowest > timeBound(time.Second) {
		t.Errorf("fresh client's slowest SayHello took %v, want under %v", slowest, timeBound(time.Second))
	}
	if fds := max(peakFDs.Load(), int64(duringFDs)); fds > int64(baseline+perAddress+32) {
		t.Errorf("server had %d files open, want at most baseline %d + %d held + 32", fds, baseline, perAddress)
	}
}

// TestHostileTricklingBody sends SayHello's body at one byte every 200 ms
// over HTTP/1.1 and h2c, to a parleyd with --body-timeout 2s: the call is
// answered deadline_exceeded at the deadline, not when the body (or the
// unary cap, 30 s after it) would end, and on HTTP/1.1 the connection is
// closed.
func TestHostileTricklingBody(t *testing.T) {
	const bodyTimeout = 2 * time.Second
	_, url := startChild(t, t.TempDir(), "--body-timeout", bodyTimeout.String())
	host := hostOf(url)
	bound := bodyTimeout + timeBound(time.Second)

	t.Run("http1", func(t *testing.T) {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		if _, err := io.WriteString(c, trickleHeader(host)); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go trickle(c, done)
		_ = c.SetReadDeadline(time.Now().Add(bound + 5*time.Second))
		br := bufio.NewReader(c)
		res, err := http.ReadResponse(br, nil)
		close(done)
		if err != nil {
			t.Fatalf("no answer after %v: %v", time.Since(start), err)
		}
		answered := time.Since(start)
		body, _ := io.ReadAll(res.Body)
		_, err = br.ReadByte()
		closed := time.Since(start)
		t.Logf("HTTP/1.1: answered %s %s after %v, connection closed after %v (%v); bound %v",
			res.Status, strings.TrimSpace(string(body)), answered.Round(time.Millisecond), closed.Round(time.Millisecond), err, bound)
		if res.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), "deadline_exceeded") {
			t.Errorf("answer %s %s, want 504 deadline_exceeded", res.Status, body)
		}
		if answered < bodyTimeout-100*time.Millisecond || closed > bound {
			t.Errorf("answered after %v and closed after %v, want at the body timeout %v (bound %v)", answered, closed, bodyTimeout, bound)
		}
		// Closed with the trickled bytes unread, the socket may be reset.
		if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("connection after the answer: %v, want closed", err)
		}
	})
	t.Run("h2c", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		done := make(chan struct{})
		defer close(done)
		go trickle(pw, done)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+sayHello, pr)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = 100
		req.Header.Set("Content-Type", "application/proto")
		start := time.Now()
		res, err := testserver.H2CClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		answered := time.Since(start)
		t.Logf("h2c: answered %s %s after %v; bound %v", res.Status, strings.TrimSpace(string(body)), answered.Round(time.Millisecond), bound)
		if res.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), "deadline_exceeded") {
			t.Errorf("answer %s %s, want 504 deadline_exceeded", res.Status, body)
		}
		if answered < bodyTimeout-100*time.Millisecond || answered > bound {
			t.Errorf("answered after %v, want at the body timeout %v (bound %v)", answered, bodyTimeout, bound)
		}
	})
}

// trickle writes a byte every 200 ms until done, or a write fails.
func trickle(w io.Writer, done <-chan struct{}) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			if _, err := w.Write([]byte{'x'}); err != nil {
				return
			}
		}
	}
}
