package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/inmem"
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
	maxFileBytes     int
	maxUnaryDuration time.Duration
	heartbeat        time.Duration
	editWindow       time.Duration
	tokenTTL         time.Duration
	shutdownTimeout  time.Duration
	logLevel         slog.Level
	logJSON          bool
	limits           server.Limits
	adminAddr        string // "" when off
	adminPublic      bool
	subscriberQueue  int
}

// parseConfig reads the configuration from args, falling back for each
// flag not given to its variable, PARLEY_ and the flag's name in upper
// case with - as _ (--max-file-bytes: PARLEY_MAX_FILE_BYTES), and then to
// the default. Help (-h) shows each flag's variable and, as its default,
// the value in effect without the flag.
//
// A malformed or out-of-range value is an error that names the flag or
// variable and the value; a variable is checked even when a flag overrides
// it, so that no setting falls back to its default in silence.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("parleyd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := config{logLevel: slog.LevelInfo}
	var origins string
	fs.StringVar(&cfg.addr, "addr", "localhost:8080", "listen address")
	fs.StringVar(&cfg.dataDir, "data-dir", "./parley-data", "directory for the SQLite database and uploaded files")
	fs.StringVar(&cfg.db, "db", "", "PostgreSQL URL (postgres://...) shared by every replica; SQLite in --data-dir when empty; turns uploads off")
	fs.StringVar(&cfg.tlsCert, "tls-cert", "", "TLS certificate file; with --tls-key serves HTTPS with HTTP/2 by ALPN")
	fs.StringVar(&cfg.tlsKey, "tls-key", "", "TLS key file")
	fs.StringVar(&origins, "cors-origins", strings.Join(server.DefaultAllowedOrigins, ","),
		`comma-separated origins browsers may call from, e.g. http://localhost:5173 for a development server; empty or "none" for no cross-origin calls`)
	cfg.maxMessageBytes = server.DefaultReadMaxBytes
	fs.Var((*byteCount)(&cfg.maxMessageBytes), "max-message-bytes", "largest request message accepted, in `bytes`, after decompression")
	cfg.maxFileBytes = parley.DefaultMaxFileBytes
	fs.Var((*byteCount)(&cfg.maxFileBytes), "max-file-bytes", "largest file that may be uploaded, in `bytes`")
	cfg.maxUnaryDuration = 30 * time.Second
	fs.Var((*positiveDuration)(&cfg.maxUnaryDuration), "max-unary-duration", "longest `duration` a unary call may run, whatever deadline the client sets")
	cfg.heartbeat = 15 * time.Second
	fs.Var((*positiveDuration)(&cfg.heartbeat), "heartbeat", "heartbeat `interval` on idle streams")
	cfg.editWindow = parley.DefaultEditWindow
	fs.Var((*positiveDuration)(&cfg.editWindow), "edit-window", "how long after sending a sender may edit a message (a `duration`)")
	cfg.tokenTTL = 30 * 24 * time.Hour
	fs.Var((*positiveDuration)(&cfg.tokenTTL), "token-ttl", "how long a session token is valid (a `duration`); its streams end when it expires")
	cfg.shutdownTimeout = 10 * time.Second
	fs.Var((*gracePeriod)(&cfg.shutdownTimeout), "shutdown-timeout", "how long shutdown waits for unary calls in flight (a `duration`; 0 for not at all)")
	fs.Var(logLevel{&cfg.logLevel}, "log-level", "log `level`: debug, info, warn or error")
	fs.Var(logFormat{&cfg.logJSON}, "log-format", "log `format`: text or json")
	limitFlags(fs, &cfg.limits)
	fs.StringVar(&cfg.adminAddr, "admin-addr", "localhost:9090",
		`admin listen address: /metrics, /debug/pprof/, /livez, /readyz; "none" for no admin listener (and no metrics)`)
	fs.BoolVar(&cfg.adminPublic, "admin-public", false, "allow --admin-addr on an address that is not loopback (metrics and profiles are then reachable from the network)")
	cfg.subscriberQueue = inmem.DefaultQueueSize
	fs.Var((*positiveCount)(&cfg.subscriberQueue), "subscriber-queue", "how many `events` a subscriber may fall behind before its stream is cut off (resource_exhausted, resumable)")

	var envErrs []error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		f.Usage += " (" + name + ")"
		if v := getenv(name); v != "" {
			if err := f.Value.Set(v); err != nil {
				envErrs = append(envErrs, fmt.Errorf("%s: %q is %w", name, v, err))
			}
			f.DefValue = f.Value.String()
		}
	})
	if err := errors.Join(envErrs...); err != nil {
		return config{}, err
	}
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if (cfg.tlsCert == "") != (cfg.tlsKey == "") {
		return config{}, fmt.Errorf("--tls-cert and --tls-key (PARLEY_TLS_CERT, PARLEY_TLS_KEY) go together: give both or neither")
	}
	if cfg.db != "" && !strings.HasPrefix(cfg.db, "postgres://") && !strings.HasPrefix(cfg.db, "postgresql://") {
		// Not quoted: the URL may hold a password.
		return config{}, fmt.Errorf("%s must be a postgres:// or postgresql:// URL", source(fs, "db"))
	}
	if cfg.adminAddr == "none" {
		cfg.adminAddr = ""
	}
	if origins != "none" {
		for o := range strings.SplitSeq(origins, ",") {
			if o = strings.TrimSpace(o); o != "" {
				cfg.corsOrigins = append(cfg.corsOrigins, o)
			}
		}
	}
	return cfg, nil
}

// envName is the environment variable for the flag name.
func envName(flagName string) string {
	return "PARLEY_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// source is how to name where flag name's value came from in an error:
// the flag if it was given, otherwise its variable.
func source(fs *flag.FlagSet, name string) string {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	if given {
		return "--" + name
	}
	return envName(name)
}
