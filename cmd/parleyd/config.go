package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/server"
)

// config is parleyd's configuration: flags, each falling back to an
// environment variable, falling back to the default.
type config struct {
	addr             string
	dataDir          string
	db               string
	tlsCert          string
	tlsKey           string
	corsOrigins      []string
	maxMessageBytes  int
	maxFileBytes     int64
	maxUnaryDuration time.Duration
	heartbeat        time.Duration
	shutdownTimeout  time.Duration
	logLevel         slog.Level
	logJSON          bool
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("parleyd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var (
		cfg       config
		origins   string
		level     string
		logFormat string
	)
	fs.StringVar(&cfg.addr, "addr", env("PARLEY_ADDR", "localhost:8080"), "listen address (PARLEY_ADDR)")
	fs.StringVar(&cfg.dataDir, "data-dir", env("PARLEY_DATA_DIR", "./parley-data"), "directory for the SQLite database (PARLEY_DATA_DIR)")
	fs.StringVar(&cfg.db, "db", env("PARLEY_DB", ""), "PostgreSQL URL (postgres://...) shared by every replica; SQLite in --data-dir when empty (PARLEY_DB)")
	fs.StringVar(&cfg.tlsCert, "tls-cert", env("PARLEY_TLS_CERT", ""), "TLS certificate file; with --tls-key serves HTTPS with HTTP/2 by ALPN (PARLEY_TLS_CERT)")
	fs.StringVar(&cfg.tlsKey, "tls-key", env("PARLEY_TLS_KEY", ""), "TLS key file (PARLEY_TLS_KEY)")
	fs.StringVar(&origins, "cors-origins", env("PARLEY_CORS_ORIGINS", strings.Join(server.DefaultAllowedOrigins, ",")),
		`comma-separated origins browsers may call from; "none" for no cross-origin calls (PARLEY_CORS_ORIGINS)`)
	fs.IntVar(&cfg.maxMessageBytes, "max-message-bytes", envInt(getenv, "PARLEY_MAX_MESSAGE_BYTES", server.DefaultReadMaxBytes),
		"largest request message accepted, after decompression (PARLEY_MAX_MESSAGE_BYTES)")
	fs.Int64Var(&cfg.maxFileBytes, "max-file-bytes", int64(envInt(getenv, "PARLEY_MAX_FILE_BYTES", parley.DefaultMaxFileBytes)),
		"largest file that may be uploaded (PARLEY_MAX_FILE_BYTES)")
	fs.DurationVar(&cfg.maxUnaryDuration, "max-unary-duration", envDuration(getenv, "PARLEY_MAX_UNARY_DURATION", 30*time.Second),
		"longest a unary call may run, whatever deadline the client sets (PARLEY_MAX_UNARY_DURATION)")
	fs.DurationVar(&cfg.heartbeat, "heartbeat", envDuration(getenv, "PARLEY_HEARTBEAT", 15*time.Second), "heartbeat interval on idle streams (PARLEY_HEARTBEAT)")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", envDuration(getenv, "PARLEY_SHUTDOWN_TIMEOUT", 10*time.Second),
		"how long shutdown waits for unary calls in flight (PARLEY_SHUTDOWN_TIMEOUT)")
	fs.StringVar(&level, "log-level", env("PARLEY_LOG_LEVEL", "info"), "debug, info, warn or error (PARLEY_LOG_LEVEL)")
	fs.StringVar(&logFormat, "log-format", env("PARLEY_LOG_FORMAT", "text"), "text or json (PARLEY_LOG_FORMAT)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if (cfg.tlsCert == "") != (cfg.tlsKey == "") {
		return config{}, fmt.Errorf("--tls-cert and --tls-key go together")
	}
	if origins != "none" {
		for o := range strings.SplitSeq(origins, ",") {
			if o = strings.TrimSpace(o); o != "" {
				cfg.corsOrigins = append(cfg.corsOrigins, o)
			}
		}
	}
	if err := cfg.logLevel.UnmarshalText([]byte(level)); err != nil {
		return config{}, fmt.Errorf("--log-level: %w", err)
	}
	switch logFormat {
	case "text":
	case "json":
		cfg.logJSON = true
	default:
		return config{}, fmt.Errorf("--log-format must be text or json, not %q", logFormat)
	}
	return cfg, nil
}

func envInt(getenv func(string) string, name string, def int) int {
	if n, err := strconv.Atoi(getenv(name)); err == nil {
		return n
	}
	return def
}

func envDuration(getenv func(string) string, name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(getenv(name)); err == nil {
		return d
	}
	return def
}
