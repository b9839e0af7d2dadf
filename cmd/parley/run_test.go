package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/testserver"
)

// user is one person at a terminal: their own config directory (so their
// own saved credentials), the server, and the global flags they type.
type user struct {
	t      *testing.T
	env    map[string]string
	flags  []string
	server string
}

func newUser(t *testing.T, server string, flags ...string) *user {
	return &user{t: t, server: server, flags: flags, env: map[string]string{
		"PARLEY_CONFIG_DIR": t.TempDir(),
		"PARLEY_SERVER":     server,
	}}
}

// run runs `parley FLAGS ARGS` in process with stdin and returns what it
// printed.
func (u *user) run(ctx context.Context, stdin string, args ...string) (string, string, error) {
	var stdout, stderr bytes.Buffer
	err := run(ctx, append(append([]string{}, u.flags...), args...), strings.NewReader(stdin), &stdout, &stderr,
		func(k string) string { return u.env[k] })
	return stdout.String(), stderr.String(), err
}

// ok runs a command that must succeed and returns its stdout.
func (u *user) ok(args ...string) string {
	u.t.Helper()
	out, errOut, err := u.run(testContext(u.t), "", args...)
	if err != nil {
		u.t.Fatalf("parley %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// fails runs a command that must fail and returns its error text.
func (u *user) fails(args ...string) string {
	u.t.Helper()
	out, _, err := u.run(testContext(u.t), "", args...)
	if err == nil {
		u.t.Fatalf("parley %s succeeded:\n%s", strings.Join(args, " "), out)
	}
	return err.Error()
}

func (u *user) signup(name string) {
	u.t.Helper()
	out, errOut, err := u.run(testContext(u.t), "parley-test-pass\n", "signup", name)
	if err != nil || !strings.Contains(out, "Signed up as "+name) {
		u.t.Fatalf("signup %s: %v\n%s%s", name, err, out, errOut)
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func contains(t *testing.T, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Fatalf("output lacks %q:\n%s", want, got)
	}
}

// jsonLines decodes --json output, one object per line.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for line := range strings.Lines(out) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", line, err)
		}
		objs = append(objs, m)
	}
	return objs
}

// startTLS serves the test server's handler over TLS with a fresh
// self-signed certificate, which is its own CA, and returns its URL and the
// certificate's PEM file, as someone running parleyd with --tls-cert would
// hand out.
func startTLS(t *testing.T, srv *testserver.Server) (string, string) {
	t.Helper()
	caFile, keyFile, _ := testserver.SelfSignedCert(t)
	cert, err := tls.LoadX509KeyPair(caFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv.Handler)
	hs.EnableHTTP2 = true
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	hs.StartTLS()
	t.Cleanup(hs.Close)
	return hs.URL, caFile
}

// TestCommands runs every command but chat, watch and the file commands
// (tested below), in text and JSON, over each protocol, codec and
// transport.
func TestCommands(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	tlsURL, caFile := startTLS(t, srv)
	type cell struct {
		name, url string
		flags     []string
	}
	var cells []cell
	for _, protocol := range []string{"connect", "grpc", "grpcweb"} {
		for _, codec := range []string{"proto", "json"} {
			flags := []string{"--protocol", protocol, "--codec", codec}
			cells = append(cells,
				cell{protocol + "/" + codec + "/h2c", srv.URL, flags},
				cell{protocol + "/" + codec + "/http1", srv.URL, append(flags, "--http1")},
				cell{protocol + "/" + codec + "/tls", tlsURL, append(flags, "--cacert", caFile)},
			)
		}
	}
	for i, tc := range cells {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			name, room := fmt.Sprintf("ada%d", i), fmt.Sprintf("general%d", i)
			ada := newUser(t, tc.url, tc.flags...)
			ada.signup(name)
			contains(t, ada.ok("whoami"), name+" (u_")
			if me := jsonLines(t, ada.ok("whoami", "--json")); me[0]["username"] != name {
				t.Fatalf("whoami --json = %v", me)
			}
			contains(t, ada.ok("rooms", "create", room), "Created public room "+room)
			contains(t, ada.ok("send", room, "hello", "world"), name+": hello world")
			sent := jsonLines(t, ada.ok("send", "--json", room, "second"))
			if sent[0]["seq"] != 2.0 || sent[0]["text"] != "second" {
				t.Fatalf("send --json = %v", sent)
			}
			history := ada.ok("history", room)
			contains(t, history, "#1 ")
			contains(t, history, name+": second")
			msgs := jsonLines(t, ada.ok("history", room, "--json"))
			if len(msgs) != 2 || msgs[0]["seq"] != 1.0 || msgs[1]["text"] != "second" {
				t.Fatalf("history --json = %v", msgs)
			}
			if after := jsonLines(t, ada.ok("history", room, "--json", "--after", "1")); len(after) != 1 {
				t.Fatalf("history --after 1 = %v", after)
			}
			contains(t, ada.ok("rooms", "list"), room)
			found := false
			for _, r := range jsonLines(t, ada.ok("rooms", "list", "--json")) {
				found = found || r["name"] == room && r["head_seq"] == 2.0
			}
			if !found {
				t.Fatal("rooms list --json lacks the room")
			}
			contains(t, ada.ok("hello", "World"), "Hello World")
			contains(t, ada.ok("hello", "--json", "JSON"), `{"message":"Hello JSON"}`)

			bob := newUser(t, tc.url, tc.flags...)
			bob.signup("bob" + name)
			contains(t, bob.fails("send", room, "hi"), "not a member of room "+room)
			contains(t, bob.ok("rooms", "join", room), "Joined public room "+room)
			contains(t, bob.ok("send", room, "hi"), "bob"+name+": hi")
			contains(t, ada.ok("rooms", "members", room), "bob"+name)
			contains(t, bob.ok("rooms", "leave", room), "Left")
			contains(t, bob.fails("history", room), "not a member")

			secret := "secret" + room
			contains(t, ada.ok("rooms", "create", "--private", secret), "Created private room")
			contains(t, bob.fails("rooms", "join", secret), "no room "+secret)
			contains(t, ada.ok("rooms", "add", secret, "bob"+name), "Added bob"+name)
			if m := jsonLines(t, bob.ok("rooms", "members", "--json", secret)); len(m) != 2 {
				t.Fatalf("members --json = %v", m)
			}

			_, _, err := ada.run(testContext(t), "wrong password\n", "signin", name)
			if err == nil || err.Error() != "wrong username or password" {
				t.Fatalf("signin with a wrong password: %v", err)
			}
			contains(t, ada.ok("signout"), "Signed out")
			contains(t, ada.fails("whoami"), "not signed in")
			out, _, err := ada.run(testContext(t), "parley-test-pass\n", "signin", "--json", name)
			if err != nil || jsonLines(t, out)[0]["user"].(map[string]any)["username"] != name {
				t.Fatalf("signin --json: %v %s", err, out)
			}
		})
	}
}

// TestCredentials checks where and how the token is saved, that each
// server has its own, and that PARLEY_TOKEN overrides the saved one.
func TestCredentials(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	other := testserver.Start(t)
	ada := newUser(t, srv.URL)
	ada.env = map[string]string{"XDG_CONFIG_HOME": t.TempDir(), "HOME": t.TempDir(), "PARLEY_SERVER": srv.URL}
	ada.signup("ada")
	path := filepath.Join(ada.env["XDG_CONFIG_HOME"], "parley", "credentials.json")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("credentials mode %v, want 0600", st.Mode().Perm())
	}
	if dir, _ := os.Stat(filepath.Dir(path)); dir.Mode().Perm() != 0o700 {
		t.Errorf("config directory mode %v, want 0700", dir.Mode().Perm())
	}
	contains(t, ada.fails("--server", other.URL, "whoami"), "not signed in to "+other.URL)
	out, _, err := ada.run(testContext(t), "parley-test-pass\n", "--server", other.URL, "signup", "ada2")
	if err != nil {
		t.Fatal(err, out)
	}
	contains(t, ada.ok("whoami"), "ada (")
	contains(t, ada.ok("--server", other.URL, "whoami"), "ada2 (")

	var saved struct {
		Servers map[string]struct{ Token string } `json:"servers"`
	}
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &saved); err != nil || len(saved.Servers) != 2 {
		t.Fatalf("credentials file: %v %s", err, b)
	}
	// PARLEY_TOKEN wins over the saved token: ada's token is not valid on
	// the other server, where ada2's is saved.
	ada.env["PARLEY_TOKEN"] = saved.Servers[srv.URL].Token
	contains(t, ada.fails("--server", other.URL, "whoami"), "expired or was revoked")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	contains(t, ada.ok("whoami"), "ada (") // and needs no saved credentials
}

// TestErrorMessages checks the sentences for the errors people hit.
func TestErrorMessages(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()
	http1Only := httptest.NewServer(srv.Handler) // HTTP/1.1 only: no h2c
	t.Cleanup(http1Only.Close)

	ada := newUser(t, srv.URL)
	ada.signup("ada")
	ada.ok("rooms", "create", "general")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"ServerNotRunning", []string{"--server", down, "hello"}, "is the server running?"},
		{"NoH2C", []string{"--server", http1Only.URL, "hello"}, "retry with --http1"},
		{"ChatOverHTTP1", []string{"--http1", "chat", "general"}, "needs HTTP/2"},
		{"NoSuchRoom", []string{"send", "nowhere", "hi"}, "no room nowhere"},
		{"InvalidText", []string{"send", "general", " "}, "invalid input: text is required"},
		{"UnknownCommand", []string{"dance"}, "usage"},
		{"BadProtocol", []string{"--protocol", "soap", "hello"}, `protocol "soap"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			contains(t, ada.fails(tc.args...), tc.want)
		})
	}
	contains(t, ada.ok("--server", http1Only.URL, "--http1", "hello", "HTTP/1.1"), "Hello HTTP/1.1")
}

// syncBuffer is a bytes.Buffer safe to write from a command's goroutines
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
