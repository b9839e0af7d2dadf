package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"

	"connectrpc.com/connect"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/internal/testserver"
)

// TestTrustedProxies runs parleyd with --trusted-proxies 127.0.0.2 and two
// sign-ups per address: X-Forwarded-For names the client whose sign-ups
// count only on requests from 127.0.0.2; from any other peer it is
// ignored, and the peer's own address counts. The per-address connection
// cap does not count the trusted proxy's connections.
func TestTrustedProxies(t *testing.T) {
	const perAddress = 2
	_, url := startChild(t, t.TempDir(), "--trusted-proxies", "127.0.0.2/32",
		"--limit-signups-per-ip", "1/h,2", "--max-connections-per-ip", fmt.Sprint(perAddress))

	n := 0
	signUp := func(from, forwarded string) connect.Code {
		t.Helper()
		c := testserver.H2C(url).From(from)
		defer c.Client.CloseIdleConnections()
		auth := parleyv1connect.NewAuthServiceClient(c.Client, url)
		n++
		req := connect.NewRequest(&parleyv1.SignUpRequest{Username: fmt.Sprintf("user%d", n), Password: testserver.Password})
		if forwarded != "" {
			req.Header().Set("X-Forwarded-For", forwarded)
		}
		_, err := auth.SignUp(context.Background(), req)
		code := connect.CodeOf(err)
		if err == nil {
			code = 0
		}
		t.Logf("SignUp from %s, X-Forwarded-For %q: %v", from, forwarded, codeName(code))
		return code
	}
	steps := []struct {
		from, forwarded string
		want            connect.Code
	}{
		// Not a trusted proxy: X-Forwarded-For is the client's say-so.
		{"127.0.0.3", "10.0.0.1", 0},
		{"127.0.0.3", "10.0.0.2", 0},
		{"127.0.0.3", "10.0.0.3", connect.CodeResourceExhausted},
		// The trusted proxy: each forwarded client counts on its own.
		{"127.0.0.2", "10.0.1.1", 0},
		{"127.0.0.2", "10.0.1.1", 0},
		{"127.0.0.2", "10.0.1.1", connect.CodeResourceExhausted},
		{"127.0.0.2", "203.0.113.9, 10.0.1.1", connect.CodeResourceExhausted}, // what the client itself wrote is not believed
		{"127.0.0.2", "10.0.1.2", 0},
		{"127.0.0.2", "2001:db8:1:2::1", 0},
		{"127.0.0.2", "2001:db8:1:2::ffff", 0},
		{"127.0.0.2", "2001:db8:1:2:abcd::1", connect.CodeResourceExhausted}, // the same /64
		{"127.0.0.2", "", 0},                                                 // the proxy's own request
	}
	for _, s := range steps {
		if got := signUp(s.from, s.forwarded); got != s.want {
			t.Errorf("SignUp from %s, X-Forwarded-For %q: %v, want %v", s.from, s.forwarded, codeName(got), codeName(s.want))
		}
	}

	// Connections: perAddress+1 from 127.0.0.4, then from the proxy.
	for _, tc := range []struct {
		from     string
		accepted int
	}{{"127.0.0.4", perAddress}, {"127.0.0.2", perAddress + 1}} {
		accepted := 0
		for range perAddress + 1 {
			if connectionServes(t, hostOf(url), tc.from) {
				accepted++
			}
		}
		t.Logf("%d connections from %s: %d served", perAddress+1, tc.from, accepted)
		if accepted != tc.accepted {
			t.Errorf("%d connections from %s: %d served, want %d", perAddress+1, tc.from, accepted, tc.accepted)
		}
	}
}

// connectionServes dials host from the local address ip, keeps the
// connection open for the rest of the test, and reports whether it was
// answered.
func connectionServes(t *testing.T, host, ip string) bool {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c, err := d.Dial("tcp", host)
	if errors.Is(err, syscall.ECONNRESET) {
		return false // refused and reset before the client saw its handshake done
	} else if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := io.WriteString(c, "GET /openapi.yaml HTTP/1.1\r\nHost: "+host+"\r\n\r\n"); err != nil {
		return false
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false
	}
	_ = res.Body.Close()
	return res.StatusCode == http.StatusOK
}

func codeName(c connect.Code) string {
	if c == 0 {
		return "ok"
	}
	return c.String()
}
