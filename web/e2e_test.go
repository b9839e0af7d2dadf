package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/pgtest"
	"github.com/parley-chat/parley/internal/testserver"
)

// TestBrowser drives the embedded app in headless Chromium (Debian's
// package, through playwright-core) against a real parleyd binary built
// from this module. Each subtest is one scenario of web/e2e/run.mjs; the
// scenarios share the server and use their own users and rooms.
//
// It needs node, web/node_modules (npm ci in web/) and Chromium
// (/usr/bin/chromium, or PARLEY_CHROMIUM); without them it skips, except
// under CI, where it fails.
func TestBrowser(t *testing.T) {
	chromium := needChromium(t, "playwright-core")
	bin := buildParleyd(t)
	d := &daemon{bin: bin, dataDir: t.TempDir(), addr: freeAddr(t)}
	d.run(t)
	control := httptest.NewServer(d.controlHandler())
	t.Cleanup(control.Close)

	shots, err := filepath.Abs("e2e/screenshots")
	if err != nil {
		t.Fatal(err)
	}
	// Scenarios that need a parleyd of their own, with these flags.
	ownServer := map[string][]string{
		// 4 open streams per user: the page's two Subscribes and 4
		// downloads at a time are over it, so some downloads are refused
		// and must be tried again.
		"images": {"--limit-streams-per-user", "4", "--limit-uploads-per-user", "off"},
		// A 1 s edit window, soon passed.
		"edit-window": {"--edit-window", "1s"},
	}
	// Sequential on purpose: each scenario runs two Chromium contexts, and
	// CI machines are small.
	for _, scenario := range []string{
		"chat-connect-json",
		"chat-grpcweb-binary",
		"curl-post",
		"restart",
		"eventsource",
		"offline",
		"attachment",
		"attachment-replicas",
		"xss",
		"keyboard",
		"screenshots",
		"images",
		"docs",
		"edits",
		"edit-window",
	} {
		t.Run(scenario, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			script, addr := scenario, d.addr
			if flags, ok := ownServer[scenario]; ok {
				own := &daemon{bin: bin, dataDir: t.TempDir(), addr: freeAddr(t), flags: flags}
				own.run(t)
				addr = own.addr
			}
			if scenario == "attachment-replicas" {
				// The attachment scenario on three parleyd on one
				// PostgreSQL database, behind a proxy that sends each
				// request to the next: an upload's chunks, the message and
				// the download each reach another replica.
				script, addr = "attachment", replicated(t, bin)
			}
			cmd := exec.CommandContext(ctx, "node", "e2e/run.mjs", script)
			cmd.Env = append(os.Environ(),
				"PARLEY_URL=http://"+addr,
				"PARLEY_CONTROL="+control.URL,
				"PARLEY_CHROMIUM="+chromium,
				"PARLEY_SCREENSHOTS="+shots,
			)
			out, err := cmd.CombinedOutput()
			t.Logf("node e2e/run.mjs %s:\n%s", scenario, out)
			if err != nil {
				if skip, ok := strings.CutPrefix(lastLine(out), "SKIP "); ok {
					t.Skip(skip)
				}
				t.Fatalf("scenario %s failed: %v", scenario, err)
			}
		})
	}
}

// needChromium skips the test in -short mode or when node, one of the
// node modules or Chromium is missing (fails it under CI), and returns
// Chromium's path: PARLEY_CHROMIUM, by default /usr/bin/chromium.
func needChromium(t *testing.T, modules ...string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds parleyd and starts Chromium")
	}
	chromium := os.Getenv("PARLEY_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	missingModule := false
	for _, m := range modules {
		missingModule = missingModule || stat("node_modules/"+m) != nil
	}
	for what, missing := range map[string]bool{
		"node (Node.js 20 or newer)":                              lookPath("node") != nil,
		"web/node_modules (run `npm ci` in web/)":                 missingModule,
		"Chromium at " + chromium + " (apt-get install chromium)": stat(chromium) != nil,
	} {
		if missing {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is missing (.ci/run installs it)", what)
			}
			t.Skipf("%s is missing; .ci/run shows how to get it", what)
		}
	}
	return chromium
}

// buildParleyd builds cmd/parleyd into the test's temporary directory and
// returns its path.
func buildParleyd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "parleyd")
	build := exec.Command("go", "build", "-o", bin, "./cmd/parleyd")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build parleyd: %v\n%s", err, out)
	}
	return bin
}

// replicated starts three parleyd on a database schema of the test's own
// behind a testserver.RoundRobin, stopped when the test ends, and returns
// the proxy's host:port.
func replicated(t *testing.T, bin string) string {
	_, db := pgtest.Schema(t, 8)
	var urls []string
	for range 3 {
		r := &daemon{bin: bin, dataDir: t.TempDir(), flags: []string{"--db", db}}
		addr, err := r.start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.stop)
		urls = append(urls, "http://"+addr)
	}
	rr := testserver.StartRoundRobin(t, urls...)
	t.Cleanup(func() { t.Logf("requests per replica: %v", rr.Served()) })
	return strings.TrimPrefix(rr.URL, "http://")
}

// daemon is the parleyd child process, restartable on the same address
// and data directory.
type daemon struct {
	bin     string
	dataDir string
	addr    string
	flags   []string     // more parleyd flags
	logLine func(string) // gets each line of parleyd's standard output (nil: none)

	mu  sync.Mutex
	cmd *exec.Cmd
}

// start runs parleyd on addr and returns the address it listens on.
func (d *daemon) start(addr string) (string, error) {
	args := append([]string{"--addr", addr, "--admin-addr", "none", "--data-dir", d.dataDir, "--log-level", "warn", "--shutdown-timeout", "2s",
		"--limit-sends-per-user", "off"}, d.flags...) // curl-post sends a backlog at once: not a test of the send limit
	cmd := exec.Command(d.bin, args...)
	cmd.Stderr = os.Stderr
	u, err := testserver.StartProcess(cmd, time.Minute, d.logLine)
	if err != nil {
		return "", fmt.Errorf("parleyd on %s: %w", addr, err)
	}
	d.mu.Lock()
	d.cmd = cmd
	d.mu.Unlock()
	return strings.TrimPrefix(u, "http://"), nil
}

// run starts parleyd on d.addr until the test ends.
func (d *daemon) run(t *testing.T) {
	t.Helper()
	if _, err := d.start(d.addr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.stop)
}

// stop ends parleyd as a signal would: open streams end with unavailable.
func (d *daemon) stop() {
	d.mu.Lock()
	cmd := d.cmd
	d.cmd = nil
	d.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// controlHandler lets the scenarios stop and start the server:
//
//	POST /stop   stops parleyd
//	POST /start  {"token", "roomId", "texts"}: first posts texts to the room
//	             (Connect JSON, as curl would) through parleyd on another
//	             port, so no page can see them live, then starts parleyd
//	             on its usual address
func (d *daemon) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /stop", func(_ http.ResponseWriter, _ *http.Request) { d.stop() })
	mux.HandleFunc("POST /start", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Token  string   `json:"token"`
			RoomID string   `json:"roomId"`
			Texts  []string `json:"texts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if len(req.Texts) > 0 {
			side, err := d.start("127.0.0.1:0")
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			for i, text := range req.Texts {
				if err := postMessage(side, req.Token, req.RoomID, text, fmt.Sprintf("offline-%d-%d", time.Now().UnixNano(), i)); err != nil {
					d.stop()
					http.Error(w, err.Error(), http.StatusBadGateway)
					return
				}
			}
			d.stop()
		}
		if _, err := d.start(d.addr); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	return mux
}

// postMessage sends a message the way the README's curl example does.
func postMessage(addr, token, roomID, text, id string) error {
	body, _ := json.Marshal(map[string]string{"room_id": roomID, "text": text, "client_message_id": id})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/parley.v1.MessageService/SendMessage", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("SendMessage: %s: %s", res.Status, out)
	}
	return nil
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func lookPath(name string) error { _, err := exec.LookPath(name); return err }
func stat(name string) error     { _, err := os.Stat(name); return err }

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}
