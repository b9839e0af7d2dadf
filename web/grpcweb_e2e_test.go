package web_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
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
	chromium := needChromium(t, "grpc-web", "playwright-core")
	pageAddr := freeAddr(t)
	log := &lockedLog{}
	d := &daemon{bin: buildParleyd(t), dataDir: t.TempDir(), addr: freeAddr(t), logLine: log.add,
		flags: []string{"--cors-origins", "http://" + pageAddr, "--log-level", "info"}}
	d.run(t)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	node := exec.CommandContext(ctx, "node", "e2e/grpcweb.mjs")
	node.Env = append(os.Environ(), "PARLEY_URL=http://"+d.addr, "PARLEY_PAGE_ADDR="+pageAddr, "PARLEY_CHROMIUM="+chromium)
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
