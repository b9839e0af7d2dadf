package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/gen/helloworld"
	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/server"
)

// rawCall is one hand-made unary request to Greeter.SayHello in a given
// protocol (connect, grpc, grpcweb) and codec (proto, json). msg is the
// message as the codec encodes it; compressed means it is already gzipped.
type rawCall struct {
	protocol, codec string
	compressed      bool
}

func (rc rawCall) String() string {
	s := rc.protocol + "/" + rc.codec
	if rc.compressed {
		s += "/gzip"
	}
	return s
}

// request builds the HTTP request; body is the message (or a reader of
// it, for bodies too large to hold).
func (rc rawCall) request(ctx context.Context, baseURL string, body io.Reader) *http.Request {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+sayHello, body)
	if err != nil {
		panic(err)
	}
	switch rc.protocol {
	case "connect":
		req.Header.Set("Content-Type", "application/"+rc.codec)
		if rc.compressed {
			req.Header.Set("Content-Encoding", "gzip")
		}
	case "grpc":
		req.Header.Set("Content-Type", "application/grpc+"+rc.codec)
		req.Header.Set("Te", "trailers")
	case "grpcweb":
		req.Header.Set("Content-Type", "application/grpc-web+"+rc.codec)
	}
	if rc.compressed && rc.protocol != "connect" {
		req.Header.Set("Grpc-Encoding", "gzip")
	}
	return req
}

// frame wraps msg in the gRPC envelope for the gRPC protocols.
func (rc rawCall) frame(msg []byte) []byte {
	if rc.protocol == "connect" {
		return msg
	}
	var flags byte
	if rc.compressed {
		flags = 1
	}
	return append(envelopeHeader(flags, len(msg)), msg...)
}

func envelopeHeader(flags byte, size int) []byte {
	h := []byte{flags, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(h[1:], uint32(size))
	return h
}

// result reads the response and returns its code (0 for OK) and message.
func (rc rawCall) result(res *http.Response) (connect.Code, string, error) {
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, "", fmt.Errorf("read response: %w", err)
	}
	if rc.protocol == "connect" {
		if res.StatusCode == http.StatusOK {
			return 0, "", nil
		}
		var e struct{ Code, Message string }
		if err := json.Unmarshal(body, &e); err != nil {
			return 0, "", fmt.Errorf("HTTP %d, body %q", res.StatusCode, body)
		}
		var code connect.Code
		if err := code.UnmarshalText([]byte(e.Code)); err != nil {
			return 0, "", err
		}
		return code, e.Message, nil
	}
	status, message, _ := testserver.GRPCStatus(res, body)
	code, err := strconv.Atoi(status)
	if err != nil {
		return 0, "", fmt.Errorf("HTTP %d without grpc-status", res.StatusCode)
	}
	message, _ = url.PathUnescape(message)
	return connect.Code(code), message, nil
}

// helloOfSize encodes a HelloRequest of exactly size bytes in codec.
func helloOfSize(t *testing.T, codec string, size int) []byte {
	t.Helper()
	if codec == "json" {
		const overhead = len(`{"name":""}`)
		return []byte(`{"name":"` + strings.Repeat("x", size-overhead) + `"}`)
	}
	for n := size - 2; n > 0; n-- {
		msg, err := proto.Marshal(&helloworld.HelloRequest{Name: strings.Repeat("x", n)})
		if err != nil {
			t.Fatal(err)
		}
		if len(msg) == size {
			return msg
		}
	}
	t.Fatalf("no HelloRequest of %d bytes", size)
	return nil
}

// transports are the ways a client reaches parleyd; gRPC needs HTTP/2.
var transports = []struct {
	name         string
	tls, http1   bool
	grpcPossible bool
}{
	{"http1", false, true, false},
	{"h2c", false, false, true},
	{"tls", true, false, true},
}

// calls are every protocol and codec.
func calls(compressed bool) []rawCall {
	var out []rawCall
	for _, protocol := range []string{"connect", "grpc", "grpcweb"} {
		for _, codec := range []string{"proto", "json"} {
			out = append(out, rawCall{protocol: protocol, codec: codec, compressed: compressed})
		}
	}
	return out
}

// TestHostileMessageSize sends messages of exactly the limit and one byte
// more, uncompressed and gzipped, on every protocol, codec and transport:
// the first is served, the second refused with resource_exhausted.
func TestHostileMessageSize(t *testing.T) {
	const limit = 64 << 10
	targets := map[bool]*hostileTarget{
		false: startTarget(t, false, []server.Option{server.WithReadMaxBytes(limit)}),
		true:  startTarget(t, true, []server.Option{server.WithReadMaxBytes(limit)}),
	}
	for _, tr := range transports {
		tg := targets[tr.tls]
		client := tg.httpClient(tr.http1)
		for _, compressed := range []bool{false, true} {
			for _, rc := range calls(compressed) {
				if rc.protocol == "grpc" && !tr.grpcPossible {
					continue
				}
				t.Run(tr.name+"/"+rc.String(), func(t *testing.T) {
					for _, tc := range []struct {
						size int
						want connect.Code
					}{
						{limit, 0},
						{limit + 1, connect.CodeResourceExhausted},
					} {
						msg := helloOfSize(t, rc.codec, tc.size)
						if compressed {
							msg = gzipBytes(msg)
						}
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						res, err := client.Do(rc.request(ctx, tg.baseURL(), bytes.NewReader(rc.frame(msg))))
						if err != nil {
							cancel()
							t.Fatalf("%d bytes: %v", tc.size, err)
						}
						code, message, err := rc.result(res)
						cancel()
						if err != nil {
							t.Fatalf("%d bytes: %v", tc.size, err)
						}
						if code != tc.want {
							t.Errorf("%d bytes: got %v (%s), want %v", tc.size, code, message, tc.want)
						}
					}
				})
			}
		}
	}
	t.Logf("bound: messages of %d bytes served, %d bytes refused with resource_exhausted, on %d protocol/codec/transport/compression cells",
		limit, limit+1, 2*(len(calls(false))*len(transports)-2))
	targets[false].checkHealthy(t, "after")
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// gzipBomb is 1 GiB of zeros as concatenated gzip members (gzip readers
// read them as one stream): about 1 MiB on the wire.
var gzipBomb = sync.OnceValue(func() []byte {
	member := gzipBytes(make([]byte, 1<<20))
	return bytes.Repeat(member, 1024)
})

// TestHostileGzipBomb sends 1 GiB of zeros gzipped to about 1 MiB, well
// under the wire cap, on every protocol and transport. The 4 MiB limit
// applies after decompression: resource_exhausted, with the heap bounded
// (connect-go inflates the rest to count it, costing CPU, not memory:
// connectrpc/connect-go#620).
func TestHostileGzipBomb(t *testing.T) {
	bomb := gzipBomb()
	targets := map[bool]*hostileTarget{false: startTarget(t, false, nil), true: startTarget(t, true, nil)}
	for _, tr := range transports {
		tg := targets[tr.tls]
		for _, rc := range []rawCall{
			{protocol: "connect", codec: "proto", compressed: true},
			{protocol: "grpc", codec: "proto", compressed: true},
			{protocol: "grpcweb", codec: "proto", compressed: true},
		} {
			if rc.protocol == "grpc" && !tr.grpcPossible {
				continue
			}
			t.Run(tr.name+"/"+rc.protocol, func(t *testing.T) {
				heap := watchHeap()
				client := tg.httpClient(tr.http1)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				start := time.Now()
				done := make(chan struct{})
				var (
					code    connect.Code
					message string
					err     error
				)
				go func() {
					defer close(done)
					res, doErr := client.Do(rc.request(ctx, tg.baseURL(), bytes.NewReader(rc.frame(bomb))))
					if doErr != nil {
						err = doErr
						return
					}
					code, message, err = rc.result(res)
				}()
				tg.checkHealthy(t, "during")
				<-done
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%.1f MiB gzip of 1 GiB: %v (%s) after %v", float64(len(bomb))/mib, code, message, time.Since(start).Round(time.Millisecond))
				if code != connect.CodeResourceExhausted {
					t.Errorf("got %v, want resource_exhausted", code)
				}
				checkBounds(t, tg, heap, 48*mib)
			})
		}
	}
}

// countingZeros is an endless body that counts what the client's
// transport pulled from it.
type countingZeros struct {
	prefix []byte
	left   int64
	read   atomic.Int64
}

func (z *countingZeros) Read(p []byte) (int, error) {
	if z.left <= 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	n = min(n, z.left)
	clear(p[:n])
	if off := z.read.Load(); off < int64(len(z.prefix)) {
		copy(p[:n], z.prefix[off:])
	}
	z.left -= n
	z.read.Add(n)
	return int(n), nil
}

// TestHostileHugeUnaryBody streams a 1 GiB body to a unary method on every
// protocol and transport (for gRPC, one envelope declaring 1 GiB). The
// server caps unary bodies on the wire (server/limit.go) at the 4 MiB
// message limit plus framing, so it must refuse with resource_exhausted
// after reading little more than that.
func TestHostileHugeUnaryBody(t *testing.T) {
	const size = 1 << 30
	targets := map[bool]*hostileTarget{false: startTarget(t, false, nil), true: startTarget(t, true, nil)}
	for _, tr := range transports {
		tg := targets[tr.tls]
		for _, rc := range []rawCall{
			{protocol: "connect", codec: "proto"},
			{protocol: "grpc", codec: "proto"},
			{protocol: "grpcweb", codec: "proto"},
		} {
			if rc.protocol == "grpc" && !tr.grpcPossible {
				continue
			}
			t.Run(tr.name+"/"+rc.protocol, func(t *testing.T) {
				heap := watchHeap()
				body := &countingZeros{left: size}
				if rc.protocol != "connect" {
					body.prefix = envelopeHeader(0, size-5)
				}
				client := tg.httpClient(tr.http1)
				defer client.CloseIdleConnections()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				start := time.Now()
				res, err := client.Do(rc.request(ctx, tg.baseURL(), body))
				if err != nil {
					// HTTP/1.1: the server may close while the body is
					// still being written; what counts is that it stopped.
					t.Logf("request ended: %v", err)
				} else {
					code, message, err := rc.result(res)
					if err != nil {
						t.Fatal(err)
					}
					t.Logf("answer: %v (%s)", code, message)
					if code != connect.CodeResourceExhausted {
						t.Errorf("got %v, want resource_exhausted", code)
					}
				}
				accepted := body.read.Load()
				t.Logf("bound: %.1f MiB of the 1 GiB body taken before the refusal, in %v",
					float64(accepted)/mib, time.Since(start).Round(time.Millisecond))
				if accepted > 64*mib {
					t.Errorf("server took %d MiB of the body", accepted/mib)
				}
				checkBounds(t, tg, heap, 64*mib)
				tg.checkHealthy(t, "after")
			})
		}
	}
}
