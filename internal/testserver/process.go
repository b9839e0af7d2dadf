package testserver

import (
	"bufio"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// StartProcess starts cmd, a parleyd (or `go run ./cmd/parleyd`), and
// waits up to timeout for the line it prints once it serves, "parleyd
// listening on URL"; it returns URL. Every line of its standard output,
// that one included, goes to logLine, or nowhere when logLine is nil; the
// output is read until the process ends, so it never blocks on a full
// pipe. When cmd exits first, it is waited for and the error says so; when
// the time runs out, it is killed (its process group, with Setpgid) and
// waited for. Stopping a started process is the caller's.
func StartProcess(cmd *exec.Cmd, timeout time.Duration, logLine func(string)) (string, error) {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	listening := make(chan string, 1)
	go func() {
		defer close(listening)
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			if logLine != nil {
				logLine(sc.Text())
			}
			if u, ok := strings.CutPrefix(sc.Text(), "parleyd listening on "); ok && !found {
				found = true
				listening <- u
			}
		}
	}()
	select {
	case u, ok := <-listening:
		if ok {
			return u, nil
		}
		if err := cmd.Wait(); err != nil {
			return "", fmt.Errorf("%s exited before listening: %w", cmd.Path, err)
		}
		return "", errors.New(cmd.Path + " exited before listening")
	case <-time.After(timeout):
		if a := cmd.SysProcAttr; a != nil && a.Setpgid {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		} else {
			_ = cmd.Process.Kill()
		}
		_ = cmd.Wait()
		return "", errors.New(cmd.Path + " did not start within " + timeout.String())
	}
}
