package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/internal/testserver"
)

// startParleyd runs parleyd in process on a free port and returns its URL
// and a func that stops it (as SIGTERM would) and returns run's error and
// how long the shutdown took.
func startParleyd(t *testing.T, args ...string) (string, func() (time.Duration, error)) {
	t.Helper()
	url, _, stop := startParleydAdmin(t, args...)
	return url, stop
}

// startParleydAdmin is startParleyd that also returns the admin
// listener's URL (on a free loopback port unless args say otherwise).
func startParleydAdmin(t *testing.T, args ...string) (url, adminURL string, stop func() (time.Duration, error)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	args = append([]string{"--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, args...)
	go func() {
		done <- run(ctx, args, func(string) string { return "" }, pw)
		pw.Close()
	}()
	urls, admins := make(chan string, 1), make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "parleyd listening on "); ok {
				urls <- u
			}
			if a, ok := strings.CutPrefix(sc.Text(), "parleyd admin on "); ok {
				admins <- strings.Fields(a)[0]
			}
		}
	}()
	select {
	case url = <-urls:
		select {
		case adminURL = <-admins: // printed before the public URL
		default:
		}
	case err := <-done:
		t.Fatalf("parleyd exited: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("parleyd did not start")
	}
	stopped := false
	stop = func() (time.Duration, error) {
		stopped = true
		start := time.Now()
		cancel()
		err := <-done
		return time.Since(start), err
	}
	t.Cleanup(func() {
		if !stopped {
			_, _ = stop()
		}
	})
	return url, adminURL, stop
}

// TestShutdownEndsStreamsWithUnavailable opens a Subscribe stream on every
// protocol, stops the server and expects each stream to end with
// unavailable carrying its position, health to have flipped, and the server
// to be gone in under a second.
func TestShutdownEndsStreamsWithUnavailable(t *testing.T) {
	t.Parallel()
	url, stop := startParleyd(t)
	c := testserver.H2C(url)
	hc := c.Client
	u := testserver.SignUp(t, c, "drainer")
	roomID := u.CreateRoom(t, "drain", parleyv1.Visibility_VISIBILITY_UNSPECIFIED).GetId()
	u.SendMessage(t, roomID, "hi", "c1")
	token := testserver.WithToken(u.Token)

	protocols := map[string][]connect.ClientOption{
		"connect": nil,
		"grpc":    {connect.WithGRPC()},
		"grpcweb": {connect.WithGRPCWeb()},
	}
	ended := make(chan error, len(protocols))
	for _, opts := range protocols {
		client := parleyv1connect.NewMessageServiceClient(hc, url, append(opts, token)...)
		stream, err := client.Subscribe(context.Background(), connect.NewRequest(&parleyv1.SubscribeRequest{RoomId: roomID}))
		if err != nil {
			t.Fatal(err)
		}
		if !stream.Receive() || stream.Msg().GetMessage().GetSeq() != 1 {
			t.Fatalf("first event: %v %v", stream.Msg(), stream.Err())
		}
		go func() {
			for stream.Receive() {
			}
			ended <- stream.Err()
		}()
	}
	// Health must flip before the listener goes away; watch it from a
	// stream opened now.
	health := grpchealth.NewClient(hc, url, connect.WithGRPC())
	if res, err := health.Check(context.Background(), &grpchealth.CheckRequest{}); err != nil || res.Status != grpchealth.StatusServing {
		t.Fatalf("health before shutdown: %v %v", res, err)
	}

	took, err := stop()
	if err != nil {
		t.Fatalf("run returned %v", err)
	}
	if took > time.Second {
		t.Errorf("shutdown took %v, want under 1s", took)
	}
	for range protocols {
		err := <-ended
		if connect.CodeOf(err) != connect.CodeUnavailable {
			t.Errorf("stream ended with %v, want unavailable", err)
			continue
		}
		var cerr *connect.Error
		errors.As(err, &cerr)
		found := false
		for _, d := range cerr.Details() {
			if v, err := d.Value(); err == nil {
				if pos, ok := v.(*parleyv1.StreamPosition); ok && pos.GetLastSeq() == 1 && pos.GetRoomId() == roomID {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("unavailable without StreamPosition{last_seq: 1}: %v", err)
		}
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := http.DefaultClient.Do(req); err == nil {
		_ = res.Body.Close()
		t.Error("server still answers after shutdown")
	}
}

func TestParseConfig(t *testing.T) {
	t.Parallel()
	env := map[string]string{"PARLEY_ADDR": "0.0.0.0:9000", "PARLEY_CORS_ORIGINS": "none"}
	cfg, err := parseConfig([]string{"--data-dir", "/tmp/x"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.addr != "0.0.0.0:9000" || cfg.dataDir != "/tmp/x" || len(cfg.corsOrigins) != 0 {
		t.Errorf("cfg = %+v", cfg)
	}
	for _, args := range [][]string{{"--tls-cert", "c.pem"}, {"--log-format", "xml"}, {"extra"}} {
		if _, err := parseConfig(args, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("parseConfig(%q) accepted", args)
		}
	}
}
