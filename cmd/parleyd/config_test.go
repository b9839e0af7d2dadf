package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/server"
)

// TestRunRejectsBadSettings: parleyd refuses to start on a malformed or
// out-of-range value, naming the variable (or flag) and the value, rather
// than falling back to the default in silence. One case per kind of value.
func TestRunRejectsBadSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want []string // substrings of the error
	}{
		{"ErrBytesNotNumber", map[string]string{"PARLEY_MAX_MESSAGE_BYTES": "abc"}, nil,
			[]string{`PARLEY_MAX_MESSAGE_BYTES: "abc" is not a whole number of bytes`}},
		{"ErrBytesWithUnit", map[string]string{"PARLEY_MAX_FILE_BYTES": "25MiB"}, nil,
			[]string{`PARLEY_MAX_FILE_BYTES: "25MiB" is not a whole number of bytes`}},
		{"ErrBytesZero", map[string]string{"PARLEY_MAX_FILE_BYTES": "0"}, nil,
			[]string{`PARLEY_MAX_FILE_BYTES: "0" is not a positive number of bytes`}},
		{"ErrBytesTooLarge", map[string]string{"PARLEY_MAX_MESSAGE_BYTES": "99999999999999999999"}, nil,
			[]string{`PARLEY_MAX_MESSAGE_BYTES: "99999999999999999999" is too large a number of bytes`}},
		{"ErrDurationWithoutUnit", map[string]string{"PARLEY_HEARTBEAT": "15"}, nil,
			[]string{`PARLEY_HEARTBEAT: "15" is not a duration with a unit, such as 30s or 2m`}},
		{"ErrDurationZero", map[string]string{"PARLEY_MAX_UNARY_DURATION": "0s"}, nil,
			[]string{`PARLEY_MAX_UNARY_DURATION: "0s" is not a positive duration`}},
		{"ErrDurationNegative", map[string]string{"PARLEY_SHUTDOWN_TIMEOUT": "-1s"}, nil,
			[]string{`PARLEY_SHUTDOWN_TIMEOUT: "-1s" is negative`}},
		{"ErrLogLevel", map[string]string{"PARLEY_LOG_LEVEL": "verbose"}, nil,
			[]string{`PARLEY_LOG_LEVEL: "verbose" is not debug, info, warn or error`}},
		{"ErrLogFormat", map[string]string{"PARLEY_LOG_FORMAT": "xml"}, nil,
			[]string{`PARLEY_LOG_FORMAT: "xml" is not text or json`}},
		{"ErrDBNotPostgres", map[string]string{"PARLEY_DB": "mysql://ada:secret@db/parley"}, nil,
			[]string{"PARLEY_DB must be a postgres:// or postgresql:// URL"}},
		{"ErrTLSCertWithoutKey", map[string]string{"PARLEY_TLS_CERT": "cert.pem"}, nil,
			[]string{"--tls-cert and --tls-key (PARLEY_TLS_CERT, PARLEY_TLS_KEY) go together"}},
		{"ErrEveryBadVariable", map[string]string{"PARLEY_HEARTBEAT": "soon", "PARLEY_MAX_FILE_BYTES": "-5"}, nil,
			[]string{`PARLEY_HEARTBEAT: "soon" is not a duration`, `PARLEY_MAX_FILE_BYTES: "-5" is not a positive number of bytes`}},
		{"ErrBadVariableUnderFlag", map[string]string{"PARLEY_HEARTBEAT": "soon"}, []string{"--heartbeat", "5s"},
			[]string{`PARLEY_HEARTBEAT: "soon" is not a duration`}},
		{"ErrTracesExporter", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, nil,
			[]string{`OTEL_TRACES_EXPORTER: "zipkin" is not otlp or none`}},
		{"ErrTracesProtocol", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}, nil,
			[]string{`OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json" is not grpc or http/protobuf`}},
		{"ErrFlagBytes", nil, []string{"--max-message-bytes", "abc"},
			[]string{`invalid value "abc" for flag -max-message-bytes: not a whole number of bytes`}},
		{"ErrFlagDuration", nil, []string{"--heartbeat", "0"},
			[]string{`invalid value "0" for flag -heartbeat: not a positive duration`}},
		{"ErrFlagLogLevel", nil, []string{"--log-level", "loud"},
			[]string{`invalid value "loud" for flag -log-level: not debug, info, warn or error`}},
		{"ErrFlagDB", map[string]string{"PARLEY_DB": "postgres://db/parley"}, []string{"--db", "db/parley"},
			[]string{"--db must be a postgres:// or postgresql:// URL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Canceled: should a case start the server by mistake, run
			// returns at once, with nil or an error this test rejects.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			args := append([]string{"--addr", "127.0.0.1:0", "--admin-addr", "none", "--data-dir", t.TempDir()}, tc.args...)
			err := run(ctx, args, func(k string) string { return tc.env[k] }, io.Discard)
			if err == nil {
				t.Fatal("run accepted the setting")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the database password", err)
			}
		})
	}
}

// mustParse returns the config of args and the variables in env, failing
// the test if parseConfig refuses them.
func mustParse(t *testing.T, args []string, env map[string]string) config {
	t.Helper()
	cfg, err := parseConfig(args, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestParseConfigFromEnvironment: each kind of value is taken from its
// variable, a flag wins over it, and the limits' edges are accepted.
func TestParseConfigFromEnvironment(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"PARLEY_MAX_MESSAGE_BYTES":  "1",
		"PARLEY_MAX_FILE_BYTES":     "1048576",
		"PARLEY_MAX_UNARY_DURATION": "1m30s",
		"PARLEY_HEARTBEAT":          "1ns",
		"PARLEY_EDIT_WINDOW":        "1h",
		"PARLEY_UPLOAD_EXPIRY":      "2h",
		"PARLEY_TOKEN_TTL":          "24h",
		"PARLEY_SHUTDOWN_TIMEOUT":   "0",
		"PARLEY_LOG_LEVEL":          "DEBUG",
		"PARLEY_LOG_FORMAT":         "json",
		"PARLEY_DB":                 "postgresql://db/parley",
		"PARLEY_ADMIN_ADDR":         "0.0.0.0:9100",
		"PARLEY_ADMIN_PUBLIC":       "true",
		"PARLEY_SUBSCRIBER_QUEUE":   "64",
	}
	cfg := mustParse(t, []string{"--heartbeat", "2s"}, env)
	want := config{
		addr: "localhost:8080", dataDir: "./parley-data", db: "postgresql://db/parley",
		maxMessageBytes: 1, maxFileBytes: 1 << 20, uploadExpiry: 2 * time.Hour, maxUnaryDuration: 90 * time.Second,
		heartbeat: 2 * time.Second, editWindow: time.Hour, tokenTTL: 24 * time.Hour, shutdownTimeout: 0, logLevel: slog.LevelDebug, logJSON: true,
		limits:    server.DefaultLimits(),
		adminAddr: "0.0.0.0:9100", adminPublic: true, subscriberQueue: 64,
		network: network{
			connections: server.ConnectionLimits{Total: server.DefaultMaxConnections, PerAddress: server.DefaultMaxConnectionsPerIP},
			bodyTimeout: server.DefaultBodyTimeout, stalledWrites: server.DefaultStalledWriteTimeout, bufferConnections: true,
		},
	}
	if !slices.Equal(cfg.corsOrigins, server.DefaultAllowedOrigins) {
		t.Errorf("corsOrigins = %q, want the default", cfg.corsOrigins)
	}
	cfg.corsOrigins = nil
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("cfg = %+v\nwant  %+v", cfg, want)
	}
}

// TestBadSettingExitsNonZero runs parleyd as a process with a malformed
// variable: it must exit 1 and say why on stderr.
func TestBadSettingExitsNonZero(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "--addr", "127.0.0.1:0", "--admin-addr", "none", "--data-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "PARLEYD_CHILD=1", "PARLEY_MAX_MESSAGE_BYTES=abc") // see TestMain
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("parleyd with PARLEY_MAX_MESSAGE_BYTES=abc: %v, want exit status 1", err)
	}
	if want := `parleyd: PARLEY_MAX_MESSAGE_BYTES: "abc" is not a whole number of bytes` + "\n"; stderr.String() != want {
		t.Errorf("stderr = %q, want %q", stderr.String(), want)
	}
}
