// Command parleyd is the Parley chat server.
//
// It serves the Connect, gRPC and gRPC-Web protocols on one port over
// HTTP/1.1 and h2c (or HTTP/2 over TLS), and keeps its data in SQLite under
// --data-dir, or with --db in PostgreSQL shared by several replicas (without
// uploads, for now). Run `parleyd -h` for the flags; each has a PARLEY_*
// variable, and a malformed value in either stops parleyd at start.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal now kills the process at once
	}()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "parleyd:", err)
		os.Exit(1)
	}
}
