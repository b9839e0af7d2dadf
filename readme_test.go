package parley_test

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/testserver"
)

// readmeBlock is one ```sh block of README.md and the HTML comment before
// it, which tells this test how to run it:
//
//	<!-- ci: skip (why) -->              not run here (say which test or CI step runs it)
//	<!-- ci: expect TEXT -->             its output must contain TEXT
//	<!-- ci: background; expect TEXT --> runs alongside the blocks after it
type readmeBlock struct {
	script     string
	skip       bool
	background bool
	expect     string
}

var ciComment = regexp.MustCompile(`^<!-- ci: (.*) -->$`)

func parseReadme(t *testing.T) []readmeBlock {
	t.Helper()
	f, err := os.Open("README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		blocks  []readmeBlock
		pending readmeBlock
		inBlock bool
		body    strings.Builder
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case inBlock && line == "```":
			inBlock = false
			pending.script = body.String()
			blocks = append(blocks, pending)
			pending = readmeBlock{}
		case inBlock:
			body.WriteString(line + "\n")
		case line == "```sh":
			inBlock = true
			body.Reset()
		case ciComment.MatchString(line):
			for part := range strings.SplitSeq(ciComment.FindStringSubmatch(line)[1], "; ") {
				switch {
				case strings.HasPrefix(part, "skip"):
					pending.skip = true
				case part == "background":
					pending.background = true
				case strings.HasPrefix(part, "expect "):
					pending.expect = strings.TrimPrefix(part, "expect ")
				}
			}
		}
	}
	return blocks
}

// TestReadme runs every shell block of README.md, in order and in one shell
// (so variables carry over), against `go run ./cmd/parleyd` listening where
// the README says localhost:8080 would be. It needs curl, jq, grpcurl and
// buf; without them it skips, except under CI where it fails.
func TestReadme(t *testing.T) {
	if testing.Short() {
		t.Skip("starts parleyd with go run")
	}
	for _, tool := range []string{"bash", "curl", "jq", "grpcurl", "buf"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed (.ci/run installs it)", tool)
			}
			t.Skipf("%s is not installed; .ci/run shows how to get it", tool)
		}
	}
	blocks := parseReadme(t)
	if len(blocks) < 5 {
		t.Fatalf("found only %d shell blocks in README.md", len(blocks))
	}
	addr := startReadmeServer(t)

	dir := t.TempDir()
	var script strings.Builder
	script.WriteString("set -euo pipefail\ncur=/dev/null\n")
	script.WriteString(`trap 'status=$?; if [ $status -ne 0 ]; then cat "$cur"; fi' EXIT` + "\n")
	var checks []func(t *testing.T, out string)
	for i, b := range blocks {
		if b.skip {
			continue
		}
		body := strings.ReplaceAll(b.script, "localhost:8080", addr)
		log := filepath.Join(dir, "block"+strconv.Itoa(i)+".out")
		if b.background {
			script.WriteString("{\n" + body + "} > " + log + " 2>&1 &\nsleep 1\n")
		} else {
			// Neither a pipeline nor a subshell: a block's variables must
			// outlive it, and set -e must stay in force inside it.
			script.WriteString("cur=" + log + "\n{\n" + body + "} > " + log + " 2>&1\ncat " + log + "; echo\n")
		}
		if b.expect != "" {
			want, name := b.expect, strings.SplitN(b.script, "\n", 2)[0]
			checks = append(checks, func(t *testing.T, _ string) {
				out, _ := os.ReadFile(log)
				if !strings.Contains(string(out), want) {
					t.Errorf("README block %q: output lacks %q:\n%s", name, want, out)
				}
			})
		}
	}
	script.WriteString("wait\n")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Env = append(os.Environ(), "PARLEY_CONFIG_DIR="+t.TempDir()) // the CLI's credentials stay in the test
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("README script failed: %v\n%s", err, out)
	}
	for _, check := range checks {
		check(t, string(out))
	}
}

// startReadmeServer runs the README's own command, `go run ./cmd/parleyd`,
// configured through the environment to listen on a free port.
func startReadmeServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command("go", "run", "./cmd/parleyd")
	cmd.Env = append(os.Environ(), "PARLEY_ADDR="+addr, "PARLEY_ADMIN_ADDR=127.0.0.1:0", "PARLEY_DATA_DIR="+t.TempDir())
	cmd.Stderr = os.Stderr
	// `go run` does not pass signals on to parleyd: signal the group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if _, err := testserver.StartProcess(cmd, 90*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
	})
	return addr
}
