package server_test

import (
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/parley-chat/parley/server"
)

// TestLimitConnections checks the caps of server.LimitConnections on real
// sockets: per address (an IPv4 address; the trusted proxy exempt), in
// total, and that a closed connection gives its place back.
func TestLimitConnections(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := server.LimitConnections(raw, server.ConnectionLimits{
		Total: 5, PerAddress: 2, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.9/32")},
	})
	defer ln.Close()
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	// dial reports whether the listener handed the connection on.
	dial := func(from string) (net.Conn, bool) {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", raw.Addr().String())
		if errors.Is(err, syscall.ECONNRESET) {
			return nil, false // reset before the client saw its handshake done
		} else if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		select {
		case sc := <-accepted:
			t.Cleanup(func() { _ = sc.Close() })
			return sc, true
		case <-time.After(300 * time.Millisecond):
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := c.Read(make([]byte, 1)); err == nil {
				t.Fatal("a refused connection got bytes")
			}
			return nil, false
		}
	}
	steps := []struct {
		from string
		want bool
	}{
		{"127.0.0.1", true}, {"127.0.0.1", true}, {"127.0.0.1", false}, // per address
		{"127.0.0.9", true}, {"127.0.0.9", true}, {"127.0.0.9", true}, // the proxy: total only
		{"127.0.0.2", false}, // total
	}
	var first net.Conn
	for i, s := range steps {
		c, ok := dial(s.from)
		if ok != s.want {
			t.Fatalf("step %d, from %s: accepted %v, want %v", i, s.from, ok, s.want)
		}
		if i == 0 {
			first = c
		}
	}
	_ = first.Close() // gives back a place of 127.0.0.1 and of the total
	if _, ok := dial("127.0.0.1"); !ok {
		t.Fatal("after a close: refused, want accepted")
	}
}
