// Package pgtest gives tests a PostgreSQL schema of their own on the
// server named by PARLEY_TEST_POSTGRES (by default the local one that .ci/run
// starts), so parallel tests and concurrent runs never share tables.
//
// Without a reachable server the tests that need one are skipped, saying
// why, so the SQLite-only developer setup keeps working; when CI is set
// they fail instead.
package pgtest

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the variable that overrides DefaultURL.
const EnvURL = "PARLEY_TEST_POSTGRES"

// DefaultURL is the server tests use unless EnvURL says otherwise.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// BaseURL returns the server's URL without a schema of the test's own.
func BaseURL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return DefaultURL
}

// Connect returns a connection to the server for the test's own use
// (inspecting, terminating backends), closed when the test ends. It skips
// the test if the server is unreachable, or fails it under CI.
func Connect(tb testing.TB) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, BaseURL())
	if err != nil {
		msg := "PostgreSQL at " + redact(BaseURL()) + " is unreachable (" + err.Error() +
			"); set " + EnvURL + " or start it as .ci/run does"
		if os.Getenv("CI") != "" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	tb.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// Schema creates an empty schema, dropped with everything in it when the
// test ends, and returns its name and a URL whose search_path is that
// schema, with at most maxConns pooled connections (0: the pool's default).
func Schema(tb testing.TB, maxConns int) (name, schemaURL string) {
	tb.Helper()
	conn := Connect(tb)
	name = "parley_test_" + strings.ToLower(rand.Text()[:12])
	if _, err := conn.Exec(context.Background(), "CREATE SCHEMA "+name); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
		}
	})
	u, err := url.Parse(BaseURL())
	if err != nil {
		tb.Fatalf("%s must be a postgres:// URL: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", name)
	if maxConns > 0 {
		q.Set("pool_max_conns", strconv.Itoa(maxConns))
	}
	u.RawQuery = q.Encode()
	return name, u.String()
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
