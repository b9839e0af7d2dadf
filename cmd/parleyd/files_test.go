package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/pgtest"
)

// TestUploadsOffWarning: with --db (PostgreSQL) uploads are off, and
// parleyd says so at start, before it listens; with SQLite they are on and
// it says nothing of the kind.
func TestUploadsOffWarning(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		db   func(t *testing.T) []string
		warn bool
	}{
		{"SQLiteSilent", func(*testing.T) []string { return nil }, false},
		{"PostgresWarns", func(t *testing.T) []string {
			_, db := pgtest.Schema(t, 2)
			return []string{"--db", db}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"--addr", "127.0.0.1:0", "--admin-addr", "none", "--data-dir", t.TempDir()}, tc.db(t)...)
			out := startupLog(t, args)
			if got := strings.Contains(out, `level=WARN msg="uploads are off`); got != tc.warn {
				t.Errorf("warning about uploads: %v, want %v; output:\n%s", got, tc.warn, out)
			}
		})
	}
}

// startupLog runs parleyd with args until it listens, stops it, and
// returns what it wrote until then.
func startupLog(t *testing.T, args []string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, func(string) string { return "" }, pw)
		pw.Close()
	}()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var out strings.Builder
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("parleyd exited before listening: %v\n%s", <-done, out.String())
			}
			out.WriteString(line + "\n")
			if strings.HasPrefix(line, "parleyd listening on ") {
				cancel()
				go func() {
					for range lines {
					}
				}()
				if err := <-done; err != nil {
					t.Errorf("run: %v", err)
				}
				return out.String()
			}
		case <-timeout:
			t.Fatalf("parleyd did not start:\n%s", out.String())
		}
	}
}
