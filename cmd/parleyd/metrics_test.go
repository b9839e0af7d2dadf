package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc/status"

	"github.com/parley-chat/parley/gen/helloworld"
	"github.com/parley-chat/parley/gen/helloworld/helloworldconnect"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/internal/testserver"
)

// scrape is one parse of /metrics.
type scrape struct {
	body     []byte
	families map[string]*dto.MetricFamily
}

func scrapeMetrics(t *testing.T, adminURL string) scrape {
	t.Helper()
	status, text := getStatus(t, adminURL+"/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d", status)
	}
	body := []byte(text)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return scrape{body, families}
}

// value is the value of the series name{labels} (a counter's or gauge's
// value, a histogram's count), 0 if there is none.
func (s scrape) value(name string, labels ...string) float64 {
	f := s.families[name]
	if f == nil {
		return 0
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
				return l.GetName() == labels[i] && l.GetValue() == labels[i+1]
			}) {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return 0
}

// histogramSum is the sum of the histogram name{labels}.
func (s scrape) histogramSum(name string) float64 {
	if f := s.families[name]; f != nil && len(f.GetMetric()) == 1 {
		return f.GetMetric()[0].GetHistogram().GetSampleSum()
	}
	return 0
}

// waitForMetric scrapes until cond holds, for the observers that run just
// after a call's client has seen its end.
func waitForMetric(t *testing.T, adminURL, what string, cond func(scrape) bool) scrape {
	t.Helper()
	deadline := time.Now().Add(timeBound(10 * time.Second))
	for {
		s := scrapeMetrics(t, adminURL)
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never showed %s:\n%s", what, s.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMetrics starts parleyd with its admin listener, makes calls over
// every protocol (Connect with both codecs, gRPC, gRPC-Web, REST), a
// Subscribe cut off as a slow consumer, one ended by shutdown and an SSE
// stream of the events route ended by shutdown too, and
// checks that /metrics moved by exactly those calls, per protocol, codec
// and code; that promtool finds nothing wrong with the metrics, the rules
// file or the names the dashboard uses; and that the public port serves
// neither metrics nor profiles.
func TestMetrics(t *testing.T) {
	t.Parallel()
	const sends = 120 // far beyond the queue of 8 and a 64 KiB flow-control window of 2 KB messages
	url, admin, stop := startParleydAdmin(t, "--subscriber-queue", "8", "--shutdown-timeout", "30s", "--limit-sends-per-user", "off")
	if admin == "" {
		t.Fatal("parleyd did not print its admin URL")
	}
	t.Run("AdminPathsNotPublic", func(t *testing.T) {
		for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/cmdline"} {
			publicBody := get(t, url+path)
			if strings.Contains(publicBody, "parley_rpc") || strings.Contains(publicBody, "go_goroutines") ||
				strings.Contains(publicBody, "profiles") || strings.Contains(publicBody, "test.") {
				t.Errorf("public port serves %s:\n%.300s", path, publicBody)
			}
		}
		if body := get(t, admin+"/debug/pprof/"); !strings.Contains(body, "goroutine") {
			t.Errorf("admin /debug/pprof/ = %.300s", body)
		}
		for _, path := range []string{"/livez", "/readyz"} {
			if body := get(t, admin+path); body != "ok\n" {
				t.Errorf("admin %s = %q", path, body)
			}
		}
	})

	ctx := testserver.Context(t)
	c := testserver.H2C(url)
	u := testserver.SignUp(t, c, "metered")
	roomID := u.CreateRoom(t, "metered", parleyv1.Visibility_VISIBILITY_UNSPECIFIED).GetId()
	before := scrapeMetrics(t, admin)

	// Unary calls over every protocol and codec.
	hello := map[string]int{"connect/proto": 3, "connect/json": 2, "grpc/proto": 2, "grpcweb/proto": 1}
	for name, n := range hello {
		greeter := helloworldconnect.NewGreeterClient(c.Client, url, protocolOptions(name)...)
		for range n {
			if _, err := greeter.SayHello(ctx, connect.NewRequest(&helloworld.HelloRequest{Name: "m"})); err != nil {
				t.Fatalf("%s SayHello: %v", name, err)
			}
		}
	}
	rooms := parleyv1connect.NewRoomServiceClient(c.Client, url, append(protocolOptions("grpc/json"), testserver.WithToken(u.Token))...)
	if _, err := rooms.CreateRoom(ctx, connect.NewRequest(&parleyv1.CreateRoomRequest{})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("CreateRoom without a name: %v, want invalid_argument", err)
	}
	for range 2 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/users/me", nil)
		req.Header.Set("Authorization", "Bearer "+u.Token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET /v1/users/me: %d", res.StatusCode)
		}
	}

	// A Subscribe that stops reading (gRPC, small flow-control window) is
	// cut off once its queue of 8 is full.
	slow := testserver.SlowSubscriber(t, ctx, url, u.Token, roomID)
	// Random text: gzip (which the grpc-go client accepts once anything in
	// the binary registers it, as the OTLP exporter does) must not shrink
	// the messages below the window.
	text := rand.Text() + rand.Text()
	for len(text) < 2000 {
		text += rand.Text()
	}
	for i := range sends {
		u.SendMessage(t, roomID, text, fmt.Sprintf("s%d", i))
	}
	// Every send published before it returned: the queue overflowed. The
	// stream notices once its blocked write goes through: read again.
	for {
		var ev parleyv1.SubscribeResponse
		if err := slow.RecvMsg(&ev); err != nil {
			if st, _ := status.FromError(err); st.Code().String() != "ResourceExhausted" {
				t.Fatalf("slow subscriber ended with %v, want ResourceExhausted", err)
			}
			break
		}
	}
	waitForMetric(t, admin, "the slow consumer's cut", func(s scrape) bool { return s.value("parley_slow_consumer_cuts_total") == 1 })

	// A Subscribe over Connect that is open when parleyd shuts down.
	messages := parleyv1connect.NewMessageServiceClient(c.Client, url, testserver.WithToken(u.Token))
	idle, err := messages.Subscribe(ctx, connect.NewRequest(&parleyv1.SubscribeRequest{RoomId: roomID, SinceSeq: sends}))
	if err != nil {
		t.Fatal(err)
	}
	idleEnd := make(chan error, 1)
	go func() {
		for idle.Receive() {
		}
		idleEnd <- idle.Err()
	}()
	// And the same as Server-Sent Events on the events route.
	events, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/v1/rooms/%s/events?since_seq=%d", url, roomID, sends), nil)
	if err != nil {
		t.Fatal(err)
	}
	events.Header.Set("Authorization", "Bearer "+u.Token)
	sseEnd := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(events)
		if err == nil {
			_, err = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		sseEnd <- err
	}()
	waitForMetric(t, admin, "the idle Subscribe and SSE stream open", func(s scrape) bool {
		return s.value("parley_streams_open", "procedure", parleyv1connect.MessageServiceSubscribeProcedure) == 2
	})
	// A unary call whose body never comes holds the shutdown open (it waits
	// up to --shutdown-timeout for unary calls), so the admin port can be
	// scraped while parleyd drains.
	held := holdUnaryCall(t, url)
	stopped := make(chan error, 1)
	go func() { _, err := stop(); stopped <- err }()
	if err := <-idleEnd; connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("idle Subscribe ended with %v, want unavailable", err)
	}
	if err := <-sseEnd; err != nil {
		t.Fatalf("SSE stream: %v", err)
	}
	subscribe := parleyv1connect.MessageServiceSubscribeProcedure
	after := waitForMetric(t, admin, "the drained streams' ends", func(s scrape) bool {
		return s.value("parley_rpc_handled_total", "procedure", subscribe, "protocol", "connect", "code", "unavailable") == 1 &&
			s.value("parley_rpc_handled_total", "procedure", subscribe, "protocol", "sse", "code", "unavailable") == 1
	})
	if status, body := getStatus(t, admin+"/readyz"); status != http.StatusServiceUnavailable {
		t.Errorf("/readyz while draining: %d %q, want 503", status, body)
	}

	sayHello := helloworldconnect.GreeterSayHelloProcedure
	delta := func(name string, labels ...string) float64 {
		return after.value(name, labels...) - before.value(name, labels...)
	}
	want := []struct {
		name   string
		labels []string
		n      float64
	}{
		// One more SayHello over Connect proto: the first call of holdUnaryCall.
		{"parley_rpc_handled_total", []string{"procedure", sayHello, "protocol", "connect", "codec", "proto", "code", "ok"}, 3 + 1},
		{"parley_rpc_handled_total", []string{"procedure", sayHello, "protocol", "connect", "codec", "json", "code", "ok"}, 2},
		{"parley_rpc_handled_total", []string{"procedure", sayHello, "protocol", "grpc", "codec", "proto", "code", "ok"}, 2},
		{"parley_rpc_handled_total", []string{"procedure", sayHello, "protocol", "grpcweb", "codec", "proto", "code", "ok"}, 1},
		{"parley_rpc_started_total", []string{"procedure", sayHello, "protocol", "connect"}, 5 + 1},
		{"parley_rpc_started_total", []string{"procedure", sayHello, "protocol", "grpc"}, 2},
		{"parley_rpc_started_total", []string{"procedure", sayHello, "protocol", "grpcweb"}, 1},
		{"parley_rpc_duration_seconds", []string{"procedure", sayHello, "protocol", "connect"}, 5 + 1},
		{"parley_rpc_handled_total", []string{"procedure", parleyv1connect.RoomServiceCreateRoomProcedure, "protocol", "grpc", "codec", "json", "code", "invalid_argument"}, 1},
		{"parley_rpc_handled_total", []string{"procedure", parleyv1connect.AuthServiceGetMeProcedure, "protocol", "rest", "codec", "json", "code", "ok"}, 2},
		{"parley_rpc_started_total", []string{"procedure", parleyv1connect.AuthServiceGetMeProcedure, "protocol", "rest"}, 2},
		{"parley_rpc_handled_total", []string{"procedure", parleyv1connect.MessageServiceSendMessageProcedure, "protocol", "connect", "codec", "proto", "code", "ok"}, sends},
		{"parley_rpc_handled_total", []string{"procedure", subscribe, "protocol", "grpc", "codec", "proto", "code", "resource_exhausted"}, 1},
		{"parley_rpc_handled_total", []string{"procedure", subscribe, "protocol", "connect", "codec", "proto", "code", "unavailable"}, 1},
		{"parley_rpc_started_total", []string{"procedure", subscribe, "protocol", "grpc"}, 1},
		{"parley_rpc_started_total", []string{"procedure", subscribe, "protocol", "connect"}, 1},
		{"parley_rpc_handled_total", []string{"procedure", subscribe, "protocol", "sse", "codec", "json", "code", "unavailable"}, 1},
		{"parley_rpc_started_total", []string{"procedure", subscribe, "protocol", "sse"}, 1},
		{"parley_streams_ended_total", []string{"procedure", subscribe, "reason", "slow_consumer"}, 1},
		{"parley_streams_ended_total", []string{"procedure", subscribe, "reason", "shutdown"}, 2},
		{"parley_stream_duration_seconds", []string{"procedure", subscribe}, 3},
		{"parley_streams_open", []string{"procedure", subscribe}, 0},
		{"parley_slow_consumer_cuts_total", nil, 1},
		{"parley_messages_stored_total", nil, sends},
		{"parley_events_published_total", []string{"kind", "message"}, sends},
		{"parley_store_operation_duration_seconds", []string{"operation", "AppendMessage", "engine", "sqlite"}, sends},
		{"parley_store_commit_errors_total", []string{"engine", "sqlite"}, 0},
	}
	for _, w := range want {
		if got := delta(w.name, w.labels...); got != w.n {
			t.Errorf("%s%v moved by %v, want %v", w.name, w.labels, got, w.n)
		}
	}
	if got := after.histogramSum("parley_store_commit_batch_size_appends") - before.histogramSum("parley_store_commit_batch_size_appends"); got != sends {
		t.Errorf("commit batches held %v appends, want %d", got, sends)
	}
	if d, l := delta("parley_events_delivered_total"), delta("parley_delivery_latency_seconds"); d < 1 || d != l {
		t.Errorf("%v events delivered, %v delivery latencies; want as many, at least 1", d, l)
	}
	if q := delta("parley_subscriber_queue_depth_events"); q < 1 {
		t.Errorf("queue depth observed %v times, want at least once", q)
	}
	if got := after.value("parley_up"); got != 0 {
		t.Errorf("parley_up = %v while draining, want 0", got)
	}
	if got := after.value("parley_store_up", "engine", "sqlite"); got != 1 {
		t.Errorf("parley_store_up = %v, want 1", got)
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if after.families[name] == nil {
			t.Errorf("no %s: the Go and process collectors are missing", name)
		}
	}
	checkMetricNames(t, after)
	checkWithPromtool(t, after.body)

	held.Close()
	if err := <-stopped; err != nil {
		t.Fatalf("parleyd: %v", err)
	}
}

// protocolOptions are the client options of "protocol/codec".
func protocolOptions(name string) []connect.ClientOption {
	protocol, codec, _ := strings.Cut(name, "/")
	return testserver.ProtocolOptions(protocol, codec)
}

func get(t *testing.T, url string) string {
	t.Helper()
	_, body := getStatus(t, url)
	return body
}

// getStatus GETs url and returns the status and the body.
func getStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, body := testserver.Do(t, http.DefaultClient, req)
	return res.StatusCode, string(body)
}

// holdUnaryCall starts a Connect unary call over HTTP/1.1 whose body
// never arrives: the handler waits for it until the connection closes. A
// first call on the same connection makes sure parleyd has accepted it
// (a connection still in the listen queue would just be dropped).
func holdUnaryCall(t *testing.T, url string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	const request = "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/proto\r\nContent-Length: %d\r\n\r\n%s"
	if _, err := fmt.Fprintf(conn, request, helloworldconnect.GreeterSayHelloProcedure, 3, "\x0a\x01m"); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if _, err := fmt.Fprintf(conn, request, helloworldconnect.GreeterSayHelloProcedure, 100, "\x0a"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // for parleyd to read the request: the connection is then busy, not idle
	return conn
}

// The Prometheus rules and the Grafana dashboard of docs/OPERATIONS.md.
const (
	rulesFile     = "../../docs/prometheus/parley.rules.yml"
	dashboardFile = "../../docs/grafana/parley.json"
)

// checkMetricNames checks that every parley_ metric the rules and the
// dashboard name is in the scrape.
func checkMetricNames(t *testing.T, s scrape) {
	t.Helper()
	// A recorded series (level:parley_...:operation) is not scraped.
	name := regexp.MustCompile(`(^|[^:a-z_])(parley_[a-z_]+)`)
	for _, file := range []string{rulesFile, dashboardFile} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range name.FindAllStringSubmatch(string(b), -1) {
			n, base := m[2], m[2]
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				if trimmed, ok := strings.CutSuffix(n, suffix); ok && s.families[trimmed] != nil {
					base = trimmed
				}
			}
			if s.families[base] == nil {
				t.Errorf("%s names %s, which /metrics does not have", file, n)
			}
		}
	}
}

// checkWithPromtool runs promtool (Debian's prometheus package) on the
// scrape and the rules file. Without it the check is skipped, except in
// CI, which installs it (.ci/run).
func checkWithPromtool(t *testing.T, body []byte) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool not found; CI installs it (Debian package prometheus)")
		}
		t.Log("promtool not found (Debian package prometheus): metric names and rules not checked")
		return
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	if out, err := exec.Command(promtool, "check", "rules", rulesFile).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
}
