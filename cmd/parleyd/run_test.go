package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
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
	p := startInProcess(t, append([]string{"--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, args...)...)
	return p.url, p.adminURL, p.shutdown
}

// inProcess is parleyd run in this process (run), with its log.
type inProcess struct {
	url      string
	adminURL string // "" unless it serves an admin listener
	cancel   context.CancelFunc
	done     chan error

	stopOnce sync.Once
	took     time.Duration // how long run took to return once canceled
	err      error         // run's

	mu   sync.Mutex
	log  []string
	more chan struct{} // closed and replaced at each line
}

// startInProcess runs parleyd with args, and no others, until it listens.
// It is stopped when the test ends, if it has not been.
func startInProcess(t *testing.T, args ...string) *inProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &inProcess{cancel: cancel, done: make(chan error, 1), more: make(chan struct{})}
	pr, pw := io.Pipe()
	go func() {
		p.done <- run(ctx, args, func(string) string { return "" }, pw)
		_ = pw.Close()
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
			p.mu.Lock()
			p.log = append(p.log, sc.Text())
			close(p.more)
			p.more = make(chan struct{})
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() { _, _ = p.shutdown() })
	select {
	case p.url = <-urls:
		select {
		case p.adminURL = <-admins: // printed before the public URL
		default:
		}
		return p
	case err := <-p.done:
		p.stopOnce.Do(func() { cancel(); p.err = err })
		t.Fatalf("parleyd exited before listening: %v", err)
	case <-time.After(timeBound(30 * time.Second)):
		t.Fatal("parleyd did not start")
	}
	return nil
}

// shutdown stops parleyd as a signal would and returns how long run took
// to return, and its error; later calls return the same.
func (p *inProcess) shutdown() (time.Duration, error) {
	p.stopOnce.Do(func() {
		start := time.Now()
		p.cancel()
		p.err = <-p.done
		p.took = time.Since(start)
	})
	return p.took, p.err
}

// stop is shutdown that fails the test unless run returns nil.
func (p *inProcess) stop(t *testing.T) {
	t.Helper()
	if _, err := p.shutdown(); err != nil {
		t.Errorf("run: %v", err)
	}
}

// waitLog returns the first log line containing s, waiting up to within.
func (p *inProcess) waitLog(t *testing.T, s string, within time.Duration) string {
	t.Helper()
	timeout := time.After(within)
	for {
		p.mu.Lock()
		for _, line := range p.log {
			if strings.Contains(line, s) {
				p.mu.Unlock()
				return line
			}
		}
		more, log := p.more, strings.Join(p.log, "\n")
		p.mu.Unlock()
		select {
		case <-more:
		case <-timeout:
			t.Fatalf("no log line with %q within %v:\n%s", s, within, log)
		}
	}
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
	cfg := mustParse(t, []string{"--data-dir", "/tmp/x"}, env)
	if cfg.addr != "0.0.0.0:9000" || cfg.dataDir != "/tmp/x" || len(cfg.corsOrigins) != 0 {
		t.Errorf("cfg = %+v", cfg)
	}
	for _, args := range [][]string{{"--tls-cert", "c.pem"}, {"--log-format", "xml"}, {"extra"}} {
		if _, err := parseConfig(args, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("parseConfig(%q) accepted", args)
		}
	}
}
