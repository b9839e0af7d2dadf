package conformance_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// features is the suite configuration for Parley: everything connect-go
// serves. Bidi streams need HTTP/2 (connect-go answers 505 on HTTP/1.1).
// The TLS run adds supportsTls and client certificates.
const features = `features:
  versions: [HTTP_VERSION_1, HTTP_VERSION_2]
  protocols: [PROTOCOL_CONNECT, PROTOCOL_GRPC, PROTOCOL_GRPC_WEB]
  codecs: [CODEC_PROTO, CODEC_JSON]
  compressions: [COMPRESSION_IDENTITY, COMPRESSION_GZIP]
  supportsH2c: true
  supportsTrailers: true
  supportsHalfDuplexBidiOverHttp1: false
  supportsConnectGet: true
  supportsMessageReceiveLimit: true
`

// TestConformance generates the suite's Go code, builds the server under
// test and connectconformance at the versions pinned in tools/go.mod, and
// runs the suite without and with TLS. The case counts are exact, so a run
// that silently shrinks (a feature dropped from the config, a new suite
// version) fails as loudly as a failing case.
func TestConformance(t *testing.T) {
	if os.Getenv("PARLEY_CONFORMANCE") != "1" {
		t.Skip("set PARLEY_CONFORMANCE=1 (task conformance) to run the Connect conformance suite")
	}
	root := repoRoot(t)
	bin := t.TempDir()

	mod := goModule(t, root, "connectrpc.com/conformance")
	t.Logf("suite: %s %s", mod.Path, mod.Version)
	template := filepath.Join(bin, "buf.gen.yaml")
	writeFile(t, template, bufGenTemplate)
	run(t, root, "go", "tool", "-modfile=tools/go.mod", "buf", "generate", filepath.Join(mod.Dir, "proto"), "--template", template)
	run(t, root, "go", "build", "-tags", "conformance", "-o", filepath.Join(bin, "parley-conformance"), "./internal/conformance/cmd/parley-conformance")
	run(t, root, "go", "build", "-modfile=tools/go.mod", "-o", filepath.Join(bin, "connectconformance"), "connectrpc.com/conformance/cmd/connectconformance")

	for _, tc := range []struct {
		name  string
		tls   bool
		cases int
	}{
		{name: "h2c", tls: false, cases: 1900},
		// 1,900 without TLS again, 1,720 over TLS (the suite's grpc-go
		// client cases run without TLS only) and 20 with client
		// certificates. The 3,800 quoted for v1.0.7 counts the 180
		// half-duplex bidi cases over HTTP/1.1 that connect-go refuses (505).
		{name: "tls", tls: true, cases: 3640},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := filepath.Join(bin, "config-"+tc.name+".yaml")
			writeFile(t, conf, features+"  supportsTls: "+strconv.FormatBool(tc.tls)+"\n  supportsTlsClientCerts: "+strconv.FormatBool(tc.tls)+"\n")
			out, err := runSuite(bin, conf)
			t.Logf("connectconformance (%s):\n%s", tc.name, lastLines(out, 400))
			m := regexp.MustCompile(`Total cases: (\d+)\n(\d+) passed, (\d+) failed`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no summary in the output (%v)", err)
			}
			total, _ := strconv.Atoi(m[1])
			passed, _ := strconv.Atoi(m[2])
			failed, _ := strconv.Atoi(m[3])
			fmt.Printf("conformance %s: %d cases, %d passed, %d failed\n", tc.name, total, passed, failed)
			if total != tc.cases {
				t.Errorf("ran %d cases, want exactly %d", total, tc.cases)
			}
			if failed == 0 {
				if err != nil {
					t.Fatalf("connectconformance: %v", err)
				}
				return
			}
			// A deadline case can lose the race between the server's
			// deadline_exceeded and the client's own deadline on a loaded
			// machine. Those, and only those, get one more run each.
			names := regexp.MustCompile(`(?m)^FAILED: (.+):$`).FindAllStringSubmatch(out, -1)
			if len(names) != failed {
				t.Fatalf("%d cases failed (exit: %v)", failed, err)
			}
			for _, name := range names {
				if !strings.HasPrefix(name[1], "Timeouts/") {
					t.Fatalf("%d cases failed, %s among them (exit: %v)", failed, name[1], err)
				}
			}
			for _, name := range names {
				out, err := runSuite(bin, conf, "--run", name[1])
				if err != nil || !strings.Contains(out, "1 passed, 0 failed") {
					t.Errorf("%s failed again:\n%s", name[1], out)
					continue
				}
				t.Logf("%s passed when run again (timing)", name[1])
				fmt.Printf("conformance %s: %s passed on its second run (timing)\n", tc.name, name[1])
			}
		})
	}
}

// runSuite runs connectconformance against the server under test.
func runSuite(bin, conf string, args ...string) (string, error) {
	args = append([]string{"--mode", "server", "--conf", conf, "--trace"}, args...)
	args = append(args, "--", filepath.Join(bin, "parley-conformance"))
	cmd := exec.Command(filepath.Join(bin, "connectconformance"), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// bufGenTemplate generates the suite's messages and Connect handlers into
// the git-ignored gen/ folder with the same plugins, pinned in go.mod, as
// Parley's own code.
const bufGenTemplate = `version: v2
clean: true
managed:
  enabled: true
  override:
    - file_option: go_package_prefix
      value: github.com/parley-chat/parley/internal/conformance/gen
plugins:
  - local: ["go", "tool", "protoc-gen-go"]
    out: internal/conformance/gen
    opt: paths=source_relative
  - local: ["go", "tool", "protoc-gen-connect-go"]
    out: internal/conformance/gen
    opt: paths=source_relative
`

type module struct{ Path, Version, Dir string }

// goModule downloads the module at the version tools/go.mod pins and
// returns where the module cache keeps it.
func goModule(t *testing.T, root, path string) module {
	t.Helper()
	out := run(t, root, "go", "mod", "download", "-modfile=tools/go.mod", "-json", path)
	var m module
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("go mod download: %v", err)
	}
	return m
}

func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines omitted)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
