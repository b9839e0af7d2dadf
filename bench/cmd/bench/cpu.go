package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
)

// CPU modes (-cpu). In shared mode the loader and every server child run
// on whatever cores the kernel picks. In pinned mode the server child runs
// under `taskset -c 0` with GOMAXPROCS=1 and the loader under `taskset -c 1`,
// so neither steals the other's core (the machine must have 2 or more CPUs).
const (
	cpuShared = "shared"
	cpuPinned = "pinned"
)

// cpuEnv tells a loader re-executed under taskset (and startChild) that the
// run is pinned: the mode travels in the environment so every scenario's
// startChild call honours it.
const cpuEnv = "PARLEY_BENCH_CPU"

// Cores used in pinned mode.
const (
	serverCore = "0"
	loaderCore = "1"
)

// pinLoader re-executes this program under `taskset -c 1` when mode is
// pinned and it is not pinned yet; on success it does not return. In shared
// mode it returns nil at once.
func pinLoader(mode string) error {
	switch mode {
	case cpuShared:
		return nil
	case cpuPinned:
	default:
		return fmt.Errorf("-cpu %q: want %s or %s", mode, cpuShared, cpuPinned)
	}
	if os.Getenv(cpuEnv) == cpuPinned {
		return nil
	}
	if runtime.NumCPU() < 2 {
		return fmt.Errorf("-cpu pinned needs 2 CPUs, have %d", runtime.NumCPU())
	}
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		return fmt.Errorf("-cpu pinned: %w (Debian package util-linux)", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	args := append([]string{"taskset", "-c", loaderCore, exe}, os.Args[1:]...)
	return syscall.Exec(taskset, args, append(os.Environ(), cpuEnv+"="+cpuPinned))
}

// cpuMode reports the mode this loader runs in.
func cpuMode() string {
	if os.Getenv(cpuEnv) == cpuPinned {
		return cpuPinned
	}
	return cpuShared
}

// childCommand returns the command that runs the peer binary exe: as is in
// shared mode, under `taskset -c 0` with GOMAXPROCS=1 in pinned mode.
func childCommand(exe string) *exec.Cmd {
	if cpuMode() != cpuPinned {
		return exec.Command(exe)
	}
	cmd := exec.Command("taskset", "-c", serverCore, exe)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	return cmd
}
