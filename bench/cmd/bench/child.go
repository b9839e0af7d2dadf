package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// child is a peer server running as a child process.
type child struct {
	name  string
	addr  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
	mu    sync.Mutex // one command at a time on stdin/stdout
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

// startChildren starts one child per name (each name once); stop stops
// them all, also those started before an error.
func startChildren(names ...string) (children map[string]*child, stop func(), err error) {
	children = map[string]*child{}
	stop = func() {
		for _, c := range children {
			c.stop()
		}
	}
	for _, name := range names {
		if children[name] != nil {
			continue
		}
		c, err := startChild(name)
		if err != nil {
			stop()
			return nil, nil, err
		}
		children[name] = c
	}
	return children, stop, nil
}

func (c *child) readLine(prefix string) (string, error) {
	for c.out.Scan() {
		if rest, ok := strings.CutPrefix(c.out.Text(), prefix+" "); ok {
			return rest, nil
		}
	}
	return "", fmt.Errorf("%s: no %s line", c.name, prefix)
}

// command sends one line to the child's stdin (see runPeer) and returns the
// rest of its answer, the next line starting with reply and a space. Safe
// for concurrent use: commands take turns.
func (c *child) command(line, reply string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		return "", err
	}
	return c.readLine(reply)
}

// usage is what a child process has used so far: CPU time (user+system,
// from getrusage in the child), its cumulative malloc count, and its read
// and write syscalls (syscr and syscw of /proc/PID/io, read by this
// process: Linux only; syscalls is false where the file cannot be read).
// Asking costs the child about one read and one write syscall (the stdin
// line and the answer), against the thousands of calls of a cell.
type usage struct {
	cpuMicros, mallocs uint64
	syscr, syscw       uint64
	syscalls           bool
}

func (c *child) stats() (usage, error) {
	var u usage
	line, err := c.command("stats", "STATS")
	if err != nil {
		return u, err
	}
	if _, err := fmt.Sscan(line, &u.cpuMicros, &u.mallocs); err != nil {
		return u, err
	}
	u.syscr, u.syscw, u.syscalls = procIO(c.cmd.Process.Pid)
	return u, nil
}

// measure runs f between two readings of the child's usage and returns
// what the child used meanwhile. An error of f wins over one of the second
// reading.
func (c *child) measure(f func() error) (usage, error) {
	u0, err := c.stats()
	if err != nil {
		return usage{}, err
	}
	err = f()
	u1, err2 := c.stats()
	if err == nil {
		err = err2
	}
	return usage{
		cpuMicros: u1.cpuMicros - u0.cpuMicros, mallocs: u1.mallocs - u0.mallocs,
		syscr: u1.syscr - u0.syscr, syscw: u1.syscw - u0.syscw,
		syscalls: u0.syscalls && u1.syscalls,
	}, err
}

// cpuPer, allocsPer, readsPer and writesPer divide a measured usage by n
// operations; readsPer and writesPer are -1 when syscalls are not known.
func (u usage) cpuPer(n int64) float64    { return float64(u.cpuMicros) / float64(max(n, 1)) }
func (u usage) allocsPer(n int64) float64 { return float64(u.mallocs) / float64(max(n, 1)) }
func (u usage) readsPer(n int64) float64  { return u.syscallsPer(u.syscr, n) }
func (u usage) writesPer(n int64) float64 { return u.syscallsPer(u.syscw, n) }

func (u usage) syscallsPer(x uint64, n int64) float64 {
	if !u.syscalls {
		return -1
	}
	return float64(x) / float64(max(n, 1))
}

// procIO reads the read and write syscall counts of process pid, all its
// threads included, from /proc/PID/io; ok is false where that file does
// not exist or cannot be read (not Linux, or no permission).
func procIO(pid int) (syscr, syscw uint64, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, 0, false
	}
	var found int
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		var dst *uint64
		switch k {
		case "syscr":
			dst = &syscr
		case "syscw":
			dst = &syscw
		default:
			continue
		}
		if _, err := fmt.Sscan(strings.TrimSpace(v), dst); err == nil {
			found++
		}
	}
	return syscr, syscw, found == 2
}

// mem returns heap and stack in use after two GCs, and the goroutine count.
func (c *child) mem() (heap, stack, goroutines uint64, err error) {
	line, err := c.command("mem", "MEM")
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
