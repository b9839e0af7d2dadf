package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// child is a peer server running as a child process.
type child struct {
	name  string
	addr  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

func startChild(name string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := childCommand(exe)
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, peerEnv+"="+name)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{name: name, cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	line, err := c.readLine("ADDR")
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c.addr = line
	return c, nil
}

func (c *child) readLine(prefix string) (string, error) {
	for c.out.Scan() {
		if rest, ok := strings.CutPrefix(c.out.Text(), prefix+" "); ok {
			return rest, nil
		}
	}
	return "", fmt.Errorf("%s: no %s line", c.name, prefix)
}

// stats returns the child's CPU time (user+system, microseconds, from
// getrusage in the child) and its cumulative malloc count.
func (c *child) stats() (cpuMicros, mallocs uint64, err error) {
	if _, err := io.WriteString(c.stdin, "stats\n"); err != nil {
		return 0, 0, err
	}
	line, err := c.readLine("STATS")
	if err != nil {
		return 0, 0, err
	}
	_, err = fmt.Sscan(line, &cpuMicros, &mallocs)
	return cpuMicros, mallocs, err
}

// mem returns heap and stack in use after two GCs, and the goroutine count.
func (c *child) mem() (heap, stack, goroutines uint64, err error) {
	if _, err := io.WriteString(c.stdin, "mem\n"); err != nil {
		return 0, 0, 0, err
	}
	line, err := c.readLine("MEM")
	if err != nil {
		return 0, 0, 0, err
	}
	_, err = fmt.Sscan(line, &heap, &stack, &goroutines)
	return heap, stack, goroutines, err
}

func (c *child) stop() {
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-timeAfter(3):
		_ = c.cmd.Process.Kill()
		<-done
	}
}
