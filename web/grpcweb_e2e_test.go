package web_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestGRPCWebClient drives the official grpc-web JavaScript client (npm
// grpc-web, pinned in package.json) in headless Chromium against a real
// parleyd, from a page on another origin that --cors-origins allows, in
// text and binary format (web/e2e/grpcweb.mjs). It then checks parleyd's
// log: the client's cancel() and both deadlines ended Subscribe streams on
// the server.
//
// It needs what TestBrowser needs; without it, it skips, except under CI.
func TestGRPCWebClient(t *testing.T) {
	if testing.Short() {
		t.Skip("builds parleyd and starts Chromium")
	}
	chromium := os.Getenv("PARLEY_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	for what, missing := range map[string]bool{
		"node (Node.js 20 or newer)":                              lookPath("node") != nil,
		"web/node_modules (run `npm ci` in web/)":                 stat("node_modules/grpc-web") != nil || stat("node_modules/playwright-core") != nil,
		"Chromium at " + chromium + " (apt-get install chromium)": stat(chromium) != nil,
	} {
		if missing {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is missing (.ci/run installs it)", what)
			}
			t.Skipf("%s is missing; .ci/run shows how to get it", what)
		}
	}

	bin := filepath.Join(t.TempDir(), "parleyd")
	build := exec.Command("go", "build", "-o", bin, "./cmd/parleyd")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build parleyd: %v\n%s", err, out)
	}
	addr, pageAddr := freeAddr(t), freeAddr(t)
	log := &lockedLog{}
	cmd := exec.Command(bin, "--addr", addr, "--admin-addr", "none", "--data-dir", t.TempDir(), "--cors-origins", "http://"+pageAddr, "--log-level", "info")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "parleyd listening on ") {
				close(listening)
			}
			log.add(sc.Text())
		}
	}()
	select {
	case <-listening:
	case <-time.After(30 * time.Second):
		t.Fatal("parleyd did not start")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	node := exec.CommandContext(ctx, "node", "e2e/grpcweb.mjs")
	node.Env = append(os.Environ(), "PARLEY_URL=http://"+addr, "PARLEY_PAGE_ADDR="+pageAddr, "PARLEY_CHROMIUM="+chromium)
	out, err := node.CombinedOutput()
	t.Logf("node e2e/grpcweb.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("grpc-web scenario failed: %v", err)
	}

	// The server sees the cancel once Chromium closes the connection.
	const subscribe = "procedure=/parley.v1.MessageService/Subscribe protocol=grpcweb"
	deadline := time.Now().Add(5 * time.Second)
	for {
		canceled := log.count(subscribe, "code=canceled")
		deadlines := log.count(subscribe, "code=deadline_exceeded")
		if canceled == 1 && deadlines == 2 {
			t.Logf("parleyd logged the cancelled Subscribe and both deadlines:\n%s", log.matching(subscribe))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("parleyd logged %d cancelled and %d deadline_exceeded Subscribe streams, want 1 and 2; log:\n%s", canceled, deadlines, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lockedLog keeps parleyd's log lines.
type lockedLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *lockedLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

func (l *lockedLog) count(parts ...string) int {
	return len(strings.Split(l.matching(parts...), "\n")) - 1
}

// matching returns the lines that contain every part, each ending in "\n".
func (l *lockedLog) matching(parts ...string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
lines:
	for _, line := range l.lines {
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue lines
			}
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

func (l *lockedLog) String() string { return l.matching() }
