//go:build conformance

// Command parley-conformance is the server under test that
// connectconformance --mode server starts: Parley's production handler with
// the suite's ConformanceService mounted. See package conformance.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/parley-chat/parley/internal/conformance"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.DiscardHandler)
	if err := conformance.Serve(ctx, os.Stdin, os.Stdout, logger); err != nil {
		fmt.Fprintln(os.Stderr, "parley-conformance:", err)
		os.Exit(1)
	}
}
