package server_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/server"
)

// bufferedPair returns the server side of a loopback TCP connection,
// accepted through BufferConnections, and the client side.
func bufferedPair(t *testing.T) (srv net.Conn, cli *net.TCPConn) {
	t.Helper()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := server.BufferConnections(tcp)
	t.Cleanup(func() { _ = ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	srv, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv, c.(*net.TCPConn)
}

// pattern is n bytes starting at offset off of an endless, non-repeating
// enough sequence, so that a lost, doubled or reordered byte shows.
func pattern(off, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		x := off + i
		p[i] = byte(x ^ x>>8 ^ x>>16)
	}
	return p
}

// writeByteTimeout writes p as net/http's HTTP/2 server does with
// WriteByteTimeout: a fresh deadline before each write, continuing while
// bytes are taken.
func writeByteTimeout(c net.Conn, timeout time.Duration, p []byte) (n int, err error) {
	for {
		_ = c.SetWriteDeadline(time.Now().Add(timeout))
		nn, err := c.Write(p[n:])
		n += nn
		if n == len(p) || nn == 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			_ = c.SetWriteDeadline(time.Time{})
			return n, err
		}
	}
}

func TestBufferedConnLoneWriteLeavesAtOnce(t *testing.T) {
	t.Parallel()
	srv, cli := bufferedPair(t)
	if _, err := srv.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	// Nothing else is written and nothing closed: the bytes must leave
	// on their own (no waiting for more to batch with).
	_ = cli.SetReadDeadline(time.Now().Add(time.Minute))
	got := make([]byte, 5)
	if _, err := io.ReadFull(cli, got); err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v", got, err)
	}
	if _, err := cli.Write([]byte("ping pong")); err != nil {
		t.Fatal(err)
	}
	got = make([]byte, 9)
	if _, err := io.ReadFull(srv, got); err != nil || string(got) != "ping pong" {
		t.Fatalf("server read %q, %v", got, err)
	}
}

func TestBufferedConnSlowReaderGetsEverything(t *testing.T) {
	t.Parallel()
	srv, cli := bufferedPair(t)
	const total = 4 << 20
	errc := make(chan error, 1)
	go func() {
		for off := 0; off < total; off += 10_000 {
			if _, err := writeByteTimeout(srv, time.Minute, pattern(off, min(10_000, total-off))); err != nil {
				errc <- err
				return
			}
		}
		errc <- srv.Close()
	}()
	var got bytes.Buffer
	buf := make([]byte, 1000)
	for {
		n, err := cli.Read(buf)
		got.Write(buf[:n])
		if got.Len()%(64<<10) < n {
			time.Sleep(time.Millisecond) // slow, but moving
		}
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), pattern(0, total)) {
		t.Fatalf("received %d bytes, not the %d written in order", got.Len(), total)
	}
}

// fillUntilTimeout writes to a peer that does not read, each write with
// a short deadline, until one fails; it returns how many bytes were
// accepted and the error.
func fillUntilTimeout(t *testing.T, c net.Conn) (int, error) {
	t.Helper()
	accepted := 0
	for {
		_ = c.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
		n, err := c.Write(pattern(accepted, 64<<10))
		accepted += n
		if err != nil {
			return accepted, err
		}
	}
}

func TestBufferedConnStalledPeerTimesOut(t *testing.T) {
	t.Parallel()
	srv, cli := bufferedPair(t)
	accepted, err := fillUntilTimeout(t, srv)
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("write to a stalled peer: %v, want a timeout", err)
	}
	// The next write, deadline passed, fails at once without taking bytes.
	if n, err := srv.Write([]byte("more")); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write after the deadline: %d, %v", n, err)
	}
	// A write has timed out: Close drops what is held rather than wait.
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(cli) // the socket's own buffer, then EOF
	if len(got) > accepted || !bytes.Equal(got, pattern(0, len(got))) {
		t.Fatalf("received %d bytes (accepted %d), not a prefix of what was written", len(got), accepted)
	}
}

// TestBufferedConnCloseWaitsAtMostFiveSeconds: with bytes held for a peer
// that stopped reading and no write timed out, Close waits for them at
// most 5 s, then closes (docs/ROBUSTNESS.md, "Buffered connections").
func TestBufferedConnCloseWaitsAtMostFiveSeconds(t *testing.T) {
	t.Parallel()
	srv, cli := bufferedPair(t)
	_ = cli.SetReadBuffer(4 << 10)
	var mu sync.Mutex
	lastWrite := time.Now()
	go func() { // no deadline: blocks once the buffers are full
		for {
			_, err := srv.Write(pattern(0, 16<<10))
			mu.Lock()
			lastWrite = time.Now()
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	for { // until a write has waited for room a while
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		stalled := time.Since(lastWrite) > 500*time.Millisecond
		mu.Unlock()
		if stalled {
			break
		}
	}
	start := time.Now()
	closed := make(chan error, 1)
	go func() { closed <- srv.Close() }()
	select {
	case err := <-closed:
		took := time.Since(start)
		t.Logf("Close returned after %v with bytes held for a peer not reading (%v)", took.Round(time.Millisecond), err)
		if took < 4*time.Second {
			t.Errorf("Close returned after %v: it should have waited for the held bytes", took)
		}
	case <-time.After(time.Minute):
		t.Fatal("Close still waiting after a minute: the 5 s bound does not hold")
	}
}

func TestBufferedConnDeadlineWhilePending(t *testing.T) {
	t.Parallel()
	srv, cli := bufferedPair(t)
	accepted, err := fillUntilTimeout(t, srv)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal(err)
	}

	// Writes with no deadline block once the socket's buffers are full
	// too (the peer's may grow a little first). Setting a deadline in the
	// past from elsewhere, as the stalled-write guard does, ends the
	// blocked one at once with a timeout.
	_ = srv.SetWriteDeadline(time.Time{})
	type result struct {
		n   int
		err error
	}
	blocked := make(chan result, 1)
	go func() {
		total := 0
		for {
			n, err := srv.Write(pattern(accepted+total, 256<<10))
			total += n
			if err != nil {
				blocked <- result{total, err}
				return
			}
		}
	}()
	time.Sleep(20 * time.Millisecond) // let it block; not a margin: it ends only on the deadline below either way
	_ = srv.SetWriteDeadline(time.Unix(1, 0))
	r := <-blocked
	if !errors.Is(r.err, os.ErrDeadlineExceeded) {
		t.Fatalf("blocked write: %d, %v, want a timeout", r.n, r.err)
	}
	accepted += r.n

	// The deadline lifted, the peer reads again: every accepted byte
	// arrives once, in order, then what is written next, then EOF after
	// CloseWrite.
	_ = srv.SetWriteDeadline(time.Time{})
	done := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(cli)
		done <- b
	}()
	if _, err := srv.Write(pattern(accepted, 100_000)); err != nil {
		t.Fatal(err)
	}
	accepted += 100_000
	if err := srv.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got := <-done
	if !bytes.Equal(got, pattern(0, accepted)) {
		t.Fatalf("received %d bytes, want the %d accepted, in order", len(got), accepted)
	}
}

func TestBufferedConnConcurrentWritersStayInOrder(t *testing.T) {
	t.Parallel()
	srv, cli := bufferedPair(t)
	const writers, records = 8, 150
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for seq := range records {
				size := 16 + (seq*7919+w*104729)%50_000 // some above the write buffer
				rec := pattern(w*1_000_000+seq, size)
				binary.BigEndian.PutUint32(rec[0:], uint32(w))
				binary.BigEndian.PutUint32(rec[4:], uint32(seq))
				binary.BigEndian.PutUint32(rec[8:], uint32(size))
				if _, err := srv.Write(rec); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	go func() {
		wg.Wait()
		_ = srv.Close() // sends what is held, then closes
	}()
	r := bufio.NewReader(cli)
	next := make(map[int]int, writers) // writer: its next sequence number
	for {
		head := make([]byte, 12)
		if _, err := io.ReadFull(r, head); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		w, seq, size := int(binary.BigEndian.Uint32(head)), int(binary.BigEndian.Uint32(head[4:])), int(binary.BigEndian.Uint32(head[8:]))
		if w >= writers {
			t.Fatalf("record from writer %d: corrupted header", w)
		}
		if seq != next[w] {
			t.Fatalf("record from writer %d seq %d, want seq %d: writes interleaved or reordered", w, seq, next[w])
		}
		rest := make([]byte, size-12)
		if _, err := io.ReadFull(r, rest); err != nil {
			t.Fatal(err)
		}
		if want := pattern(w*1_000_000+seq, size)[12:]; !bytes.Equal(rest, want) {
			t.Fatalf("record %d/%d corrupted", w, seq)
		}
		next[w]++
	}
	for w := range writers {
		if next[w] != records {
			t.Errorf("writer %d: %d records arrived, want %d", w, next[w], records)
		}
	}
}

func TestBufferedConnReadDeadlineHoldsForBufferedBytes(t *testing.T) {
	t.Parallel()
	srv, cli := bufferedPair(t)
	if _, err := cli.Write(pattern(0, 100)); err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 10)
	if _, err := io.ReadFull(srv, head); err != nil {
		t.Fatal(err)
	}
	_ = srv.SetReadDeadline(time.Unix(1, 0))
	if n, err := srv.Read(make([]byte, 10)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after the deadline with bytes buffered: %d, %v", n, err)
	}
	_ = srv.SetReadDeadline(time.Time{})
	rest := make([]byte, 90)
	if _, err := io.ReadFull(srv, rest); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(head, rest...), pattern(0, 100)) {
		t.Fatal("bytes lost or reordered across the deadline")
	}

	// Close ends a blocked Read at once.
	errc := make(chan error, 1)
	go func() {
		_, err := srv.Read(make([]byte, 10))
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond) // let it block; it returns only on Close either way
	_ = srv.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("blocked read after Close: %v", err)
	}
}

// An HTTP/1.1 response on a connection the server then closes arrives
// whole: what is held leaves before the lingering close's FIN.
func TestBufferedConnHTTP1CloseSendsWholeResponse(t *testing.T) {
	t.Parallel()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := server.BufferConnections(server.LimitConnections(tcp, server.ConnectionLimits{Total: 4}))
	body := strings.Repeat("parley ", 150_000)
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Connection", "close")
			_, _ = io.WriteString(w, body)
		}),
		ReadHeaderTimeout: time.Minute,
	}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	for i := range 3 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /%d HTTP/1.1\r\nHost: parley\r\n\r\n", i)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		_ = c.Close()
		if err != nil || string(got) != body {
			t.Fatalf("response %d: %d of %d bytes, %v", i, len(got), len(body), err)
		}
	}
}
