package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/testserver"
)

// TestStreamingCommands runs watch, chat, upload and download over each
// protocol and codec (chat over h2c and TLS: it needs HTTP/2), in text and
// JSON.
func TestStreamingCommands(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	tlsURL, caFile := startTLS(t, srv)
	i := 0
	for _, protocol := range []string{"connect", "grpc", "grpcweb"} {
		for _, codec := range []string{"proto", "json"} {
			for _, transport := range []string{"h2c", "tls"} {
				i++
				name, room := fmt.Sprintf("streamer%d", i), fmt.Sprintf("stream%d", i)
				url, flags := srv.URL, []string{"--protocol", protocol, "--codec", codec}
				if transport == "tls" {
					url, flags = tlsURL, append(flags, "--cacert", caFile)
				}
				t.Run(protocol+"/"+codec+"/"+transport, func(t *testing.T) {
					t.Parallel()
					ada := newUser(t, url, flags...)
					ada.signup(name)
					ada.ok("rooms", "create", room)
					ada.ok("send", room, "first")

					// watch: replays, then stops after -n messages.
					events := jsonLines(t, ada.ok("watch", room, "--since", "0", "-n", "1", "--json"))
					if len(events) != 1 || events[0]["message"].(map[string]any)["text"] != "first" {
						t.Fatalf("watch --json = %v", events)
					}
					contains(t, ada.ok("watch", room, "--since", "0", "-n", "1"), name+": first")

					// chat: type a line, see it come back, leave with /quit.
					for _, jsonFlag := range []bool{false, true} {
						stdin, typing := io.Pipe()
						var stdout, stderr syncBuffer
						args := []string{"chat", room}
						if jsonFlag {
							args = append(args, "--json")
						}
						done := make(chan error, 1)
						go func() {
							done <- run(testContext(t), append(append([]string{}, flags...), args...), stdin, &stdout, &stderr,
								func(k string) string { return ada.env[k] })
						}()
						line := "typed, json=" + map[bool]string{false: "no", true: "yes"}[jsonFlag]
						_, _ = io.WriteString(typing, line+"\n") // a dead process fails the test below
						want := name + ": " + line
						if jsonFlag {
							want = `"text":"` + line + `"`
						}
						waitForOutput(t, &stdout, &stderr, want)
						_, _ = io.WriteString(typing, "/quit\n")
						if err := <-done; err != nil {
							t.Fatalf("chat: %v\n%s", err, stderr.String())
						}
						typing.Close()
					}

					// upload and download.
					path := filepath.Join(t.TempDir(), "notes.txt")
					content := bytes.Repeat([]byte("parley "), 50000)
					if err := os.WriteFile(path, content, 0o600); err != nil {
						t.Fatal(err)
					}
					file := jsonLines(t, ada.ok("upload", "--json", room, path))
					if file[0]["name"] != "notes.txt" || file[0]["size"] != float64(len(content)) || file[0]["content_type"] != "text/plain; charset=utf-8" {
						t.Fatalf("upload --json = %v", file)
					}
					out, _, err := ada.run(testContext(t), "", "download", file[0]["id"].(string), "-o", "-")
					if err != nil || out != string(content) {
						t.Fatalf("download -o -: %d bytes, %v", len(out), err)
					}
				})
			}
		}
	}
}

func waitForOutput(t *testing.T, stdout, stderr *syncBuffer, want string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(stdout.String(), want); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never printed %q:\n%s\nstderr:\n%s", want, stdout.String(), stderr.String())
		}
	}
}
