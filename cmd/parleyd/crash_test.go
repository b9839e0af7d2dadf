package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/internal/testserver"
)

// TestMain lets a test start this test binary as a real parleyd child
// process (PARLEYD_CHILD=1), signal handling included, which it can then
// stop with SIGTERM or kill -9.
func TestMain(m *testing.M) {
	if os.Getenv("PARLEYD_CHILD") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startChild runs parleyd as a child process on a free port over dataDir,
// with any further flags in args.
func startChild(t *testing.T, dataDir string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	return startChildLogging(t, dataDir, nil, nil, args...)
}

// startChildLogging is startChild with the variables env added to the
// child's environment and the other lines it writes to stdout copied to
// logs, unless logs is nil.
func startChildLogging(t *testing.T, dataDir string, env []string, logs io.Writer, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd, u := execChild(t, append([]string{"--addr", "127.0.0.1:0", "--admin-addr", "none", "--data-dir", dataDir, "--log-level", "warn"}, args...), env,
		func(line string) {
			if logs != nil {
				fmt.Fprintln(logs, line)
			}
		})
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd, u
}

// execChild starts this test binary as parleyd (see TestMain) with args
// and the variables env added to its environment, and waits up to a minute
// for it to listen. It returns the process and the URL parleyd says it
// listens on; every other line of its stdout goes to line.
func execChild(t *testing.T, args, env []string, line func(string)) (*exec.Cmd, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(append(os.Environ(), "PARLEYD_CHILD=1"), env...)
	cmd.Stderr = os.Stderr
	u, err := testserver.StartProcess(cmd, time.Minute, func(l string) {
		if !strings.HasPrefix(l, "parleyd listening on ") {
			line(l)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return cmd, u
}

// TestCrashKeepsAcknowledgedMessages kills parleyd with SIGKILL while four
// senders are mid-flight, restarts it on the same data directory and checks
// that every acknowledged message is there, with contiguous seqs.
func TestCrashKeepsAcknowledgedMessages(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	// One user sends as fast as it can: not a test of the send limit.
	cmd, url := startChild(t, dataDir, "--limit-sends-per-user", "off")
	u := testserver.SignUp(t, testserver.H2C(url), "crasher")
	roomID := u.CreateRoom(t, "crash", parleyv1.Visibility_VISIBILITY_UNSPECIFIED).GetId()
	messages := u.Messages

	var (
		mu     sync.Mutex
		acked  = map[int64]string{} // seq -> text
		killed = make(chan struct{})
		wg     sync.WaitGroup
	)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				text := fmt.Sprintf("w%d-%d", w, i)
				res, err := messages.SendMessage(context.Background(), connect.NewRequest(&parleyv1.SendMessageRequest{
					RoomId: roomID, Text: text, ClientMessageId: text,
				}))
				if err != nil {
					select {
					case <-killed:
						return // expected: the server is gone
					default:
						t.Errorf("send before the kill: %v", err)
						return
					}
				}
				mu.Lock()
				acked[res.Msg.GetMessage().GetSeq()] = text
				n := len(acked)
				mu.Unlock()
				if n == 300 {
					// killed first: the other senders' calls fail as soon
					// as the signal lands.
					close(killed)
					_ = cmd.Process.Signal(syscall.SIGKILL) // right after an ack
				}
			}
		})
	}
	wg.Wait()
	_ = cmd.Wait()

	_, url = startChild(t, dataDir)
	messages = u.Via(testserver.H2C(url)).Messages
	stored := listAll(t, messages, roomID)
	for i, m := range stored {
		if m.GetSeq() != int64(i+1) {
			t.Fatalf("stored seq %d at position %d: not contiguous", m.GetSeq(), i)
		}
	}
	for seq, text := range acked {
		if seq > int64(len(stored)) || stored[seq-1].GetText() != text {
			t.Errorf("acknowledged seq %d (%q) lost", seq, text)
		}
	}
	t.Logf("%d acknowledged before SIGKILL, %d stored after restart", len(acked), len(stored))
}
