package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/testserver"
)

// terminal is a tmux window running a command, on a tmux server of the
// test's own (its own socket), typed into and read as a person would.
type terminal struct {
	t      *testing.T
	socket string
	name   string
}

// terminals opens terminals running the parley binary on a tmux server
// of the test's own.
type terminals struct {
	t      *testing.T
	socket string
	parley string
}

// needTerminals skips the test without tmux (fails it under CI) and builds
// parley.
func needTerminals(t *testing.T) *terminals {
	t.Helper()
	return &terminals{t: t, socket: needTmux(t), parley: binary(t, "parley")}
}

// open runs `parley ARGS` with env in a new terminal called name.
func (ts *terminals) open(name string, env map[string]string, args ...string) *terminal {
	ts.t.Helper()
	var cmdline strings.Builder
	cmdline.WriteString("env")
	for k, v := range env {
		fmt.Fprintf(&cmdline, " %s=%q", k, v)
	}
	for _, a := range append([]string{ts.parley}, args...) {
		fmt.Fprintf(&cmdline, " %q", a)
	}
	// Keep the window after the command exits, so its last words can be read.
	cmdline.WriteString("; echo '[exited]'; sleep 60")
	tm := &terminal{t: ts.t, socket: ts.socket, name: name}
	tm.tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "40", cmdline.String())
	return tm
}

func (tm *terminal) tmux(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", tm.socket}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// typeLine types text and presses Enter.
func (tm *terminal) typeLine(text string) {
	tm.t.Helper()
	tm.tmux("send-keys", "-t", tm.name, "-l", text)
	tm.tmux("send-keys", "-t", tm.name, "Enter")
}

func (tm *terminal) screen() string {
	tm.t.Helper()
	return tm.tmux("capture-pane", "-p", "-t", tm.name)
}

// waitFor waits until the screen shows text.
func (tm *terminal) waitFor(text string) string {
	tm.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := tm.screen()
		if strings.Contains(s, text) {
			return s
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("terminal %s never showed %q:\n%s", tm.name, text, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func needTmux(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is not installed (.ci/run installs it)")
		}
		t.Skip("tmux is not installed")
	}
	socket := fmt.Sprintf("parley-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", socket, "kill-server").Run() })
	return socket
}

// TestChatInTerminals has two people run `parley chat` in two terminals
// and talk: what one types shows up on the other's screen, once.
func TestChatInTerminals(t *testing.T) {
	t.Parallel()
	terms := needTerminals(t)
	srv := testserver.Start(t)
	ada, bob := newUser(t, srv.URL), newUser(t, srv.URL)
	ada.signup("ada")
	bob.signup("bob")
	ada.ok("rooms", "create", "general")
	ada.ok("send", "general", "welcome, bob")
	bob.ok("rooms", "join", "general")

	adaTerm := terms.open("ada", ada.env, "chat", "general")
	bobTerm := terms.open("bob", bob.env, "chat", "general")
	adaTerm.waitFor("Chatting in general")
	bobTerm.waitFor("ada: welcome, bob") // the earlier messages come first

	adaTerm.typeLine("hi bob, how are you?")
	bobTerm.waitFor("ada: hi bob, how are you?")
	bobTerm.typeLine("fine, thanks ada!")
	adaTerm.waitFor("bob: fine, thanks ada!")
	screen := bobTerm.waitFor("bob: fine, thanks ada!") // your own lines come back with their seq
	if n := strings.Count(screen, "ada: hi bob, how are you?"); n != 1 {
		t.Errorf("bob's screen shows ada's line %d times:\n%s", n, screen)
	}
	adaTerm.typeLine("/quit")
	adaTerm.waitFor("[exited]")
	bobTerm.tmux("send-keys", "-t", "bob", "C-d")
	bobTerm.waitFor("[exited]")
	history := ada.ok("history", "general")
	for _, want := range []string{"#3 ", "ada: hi bob, how are you?", "#4 ", "bob: fine, thanks ada!"} { // #2 is bob's join
		contains(t, history, want)
	}
}

// TestUploadProgressInTerminal checks that upload draws its progress bar
// on a terminal (and TestUploadResumes that it stays quiet otherwise).
func TestUploadProgressInTerminal(t *testing.T) {
	t.Parallel()
	terms := needTerminals(t)
	srv := testserver.Start(t)
	ada := newUser(t, srv.URL)
	ada.signup("ada")
	ada.ok("rooms", "create", "general")
	path := writeRandomFile(t, 3<<20)
	term := terms.open("upload", ada.env, "upload", "--limit-rate", "2m", "general", path)
	term.waitFor("%  ")
	screen := term.waitFor("[exited]")
	for _, want := range []string{"[######", "100%  3.0 MiB / 3.0 MiB", "Uploaded big.bin (3.0 MiB) to general"} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
}

// TestSignupInTerminal checks that the password typed at the prompt does
// not show on the screen.
func TestSignupInTerminal(t *testing.T) {
	t.Parallel()
	terms := needTerminals(t)
	srv := testserver.Start(t)
	carol := newUser(t, srv.URL)
	term := terms.open("signup", carol.env, "signup", "carol")
	term.waitFor("Password:") // capture-pane trims trailing spaces
	term.typeLine("secret-password")
	screen := term.waitFor("Signed up as carol")
	if strings.Contains(screen, "secret-password") {
		t.Errorf("the password shows on the screen:\n%s", screen)
	}
	contains(t, carol.ok("whoami"), "carol (")
}
