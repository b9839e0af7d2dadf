package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/testserver"
)

// binDir holds parleyd and parley built for the tests that run them as
// processes (a restarted server, terminals).
var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// TestMain removes the binaries built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary returns the path of cmd/NAME built for tests.
func binary(t *testing.T, name string) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "parley-bin-"); binErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", binDir, "github.com/parley-chat/parley/cmd/parleyd", "github.com/parley-chat/parley/cmd/parley").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, name)
}

// parleyd is a parleyd process that can be stopped and started again on
// the same address and data directory.
type parleyd struct {
	t       *testing.T
	addr    string
	dataDir string
	args    []string // more flags
	cmd     *exec.Cmd
}

// startParleyd starts parleyd on a free port with SQLite in a data
// directory of its own, or with args such as --db.
func startParleyd(t *testing.T, args ...string) *parleyd {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &parleyd{t: t, addr: ln.Addr().String(), dataDir: t.TempDir(), args: args}
	ln.Close()
	p.start()
	t.Cleanup(func() { p.stop(syscall.SIGKILL) })
	return p
}

func (p *parleyd) URL() string { return "http://" + p.addr }

func (p *parleyd) start() {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		cmd := exec.Command(binary(p.t, "parleyd"), append([]string{"--addr", p.addr, "--admin-addr", "none", "--data-dir", p.dataDir, "--log-level", "warn", "--heartbeat", "1s"}, p.args...)...)
		cmd.Env = append(os.Environ(), "PARLEY_DB=") // SQLite in --data-dir, whatever the environment says
		var stderr strings.Builder
		cmd.Stderr = &stderr
		_, err := testserver.StartProcess(cmd, 20*time.Second, nil)
		if err == nil {
			p.cmd = cmd
			return
		}
		if time.Now().After(deadline) { // the port may linger a moment after a stop
			p.t.Fatalf("parleyd did not start: %v: %s", err, stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stop ends parleyd with sig (SIGTERM: a graceful shutdown; SIGKILL: a
// crash) and waits for it to exit.
func (p *parleyd) stop(sig syscall.Signal) {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	_ = p.cmd.Wait()
	p.cmd = nil
}
