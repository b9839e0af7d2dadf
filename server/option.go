package server

import (
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/parley-chat/parley"
)

// Option configures a Server.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	logger         *slog.Logger
	allowedOrigins []string
	readMaxBytes   int
	heartbeat      time.Duration
	editWindow     time.Duration
	tokenTTL       time.Duration
	now            func() time.Time
	extraServices  []MountFunc
	webApp         http.Handler
	files          parley.FileStore
	blobs          parley.BlobStore
	maxFileBytes   int64
	uploadExpiry   time.Duration
	maxUnary       time.Duration
	observers      []CallObserver
	limits         Limits
	trustedProxies []netip.Prefix
	bodyTimeout    time.Duration
	writeStall     time.Duration
	interceptors   interceptorList
	observer       *parley.Observer

	authCacheTTL     time.Duration
	authCacheEntries int
}

// WithObserver tells o where the work below the RPCs happens: each store
// operation, publish, delivery to a subscriber and how each stream ends
// (see parley.Observer). Given more than once, every observer is told
// (parley.JoinObservers). By default, nothing is observed.
func WithObserver(o *parley.Observer) Option {
	return optionFunc(func(c *config) { c.observer = parley.JoinObservers(c.observer, o) })
}

// WithFiles enables FileService and message attachments, keeping metadata
// in files and contents in blobs. By default, FileService answers
// unimplemented and messages cannot have attachments.
func WithFiles(files parley.FileStore, blobs parley.BlobStore) Option {
	return optionFunc(func(c *config) { c.files, c.blobs = files, blobs })
}

// WithMaxFileBytes sets the largest file that may be uploaded. By default,
// parley.DefaultMaxFileBytes (25 MiB).
func WithMaxFileBytes(n int64) Option {
	return ifPositive(n, func(c *config) *int64 { return &c.maxFileBytes })
}

// WithMaxUnaryDuration caps how long a unary call may run: a client
// deadline further out, or none at all, is shortened to this. Streams are
// not capped; they end when the client's deadline (if any) passes. By
// default, 30 seconds.
func WithMaxUnaryDuration(d time.Duration) Option {
	return ifPositive(d, func(c *config) *time.Duration { return &c.maxUnary })
}

// WithWebApp serves h at "/" and every path no API route claims (the
// browser app). By default, GET / answers with a short text.
func WithWebApp(h http.Handler) Option {
	return optionFunc(func(c *config) { c.webApp = h })
}

// DefaultAllowedOrigins are the origins allowed to call the API from a
// browser by default: none. The app served by parleyd itself is
// same-origin and needs no CORS; a development server on another origin
// is allowed by name (parleyd --cors-origins http://localhost:5173, see
// web/README.md), never by default, since any page on a developer's
// machine could otherwise call a production server in their name.
var DefaultAllowedOrigins []string

// DefaultReadMaxBytes is the largest request message accepted by default,
// after decompression.
const DefaultReadMaxBytes = 4 << 20

// ifPositive returns the option that sets the config field that field
// points to to v when v is above zero; zero or less keeps the default
// (the rule of every numeric option).
func ifPositive[T int | int64 | time.Duration](v T, field func(*config) *T) Option {
	return optionFunc(func(c *config) {
		if v > 0 {
			*field(c) = v
		}
	})
}

func defaultConfig() config {
	return config{
		logger:         slog.New(slog.DiscardHandler),
		allowedOrigins: DefaultAllowedOrigins,
		readMaxBytes:   DefaultReadMaxBytes,
		heartbeat:      15 * time.Second,
		editWindow:     parley.DefaultEditWindow,
		tokenTTL:       30 * 24 * time.Hour,
		now:            time.Now,
		maxFileBytes:   parley.DefaultMaxFileBytes,
		uploadExpiry:   parley.DefaultUploadExpiry,
		maxUnary:       30 * time.Second,
		limits:         DefaultLimits(),
		bodyTimeout:    DefaultBodyTimeout,
		writeStall:     DefaultStalledWriteTimeout,

		authCacheTTL:     DefaultAuthCacheTTL,
		authCacheEntries: DefaultAuthCacheEntries,
	}
}

// WithAuthCache sets how long the server trusts a session or a membership
// the store confirmed without asking it again (ttl), and how many of each
// it keeps (entries; when full, the oldest of a few is evicted).
// Sign-out and leaving a room drop an entry at once on every replica that
// hears the revocation (see New); ttl bounds how long one that was not
// heard, or a change made in the database directly, goes unseen by calls.
// A ttl or entries of 0 or less turns the cache off: every call asks the
// store. By default, DefaultAuthCacheTTL (2 s) and
// DefaultAuthCacheEntries (65,536).
func WithAuthCache(ttl time.Duration, entries int) Option {
	return optionFunc(func(c *config) { c.authCacheTTL, c.authCacheEntries = ttl, entries })
}

// WithLogger sets the logger for the one line per RPC and for internal
// errors. By default, nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithAllowedOrigins sets the origins browsers may call the API from. An
// empty list turns CORS off: no cross-origin browser calls at all (never
// "allow every origin"). By default, DefaultAllowedOrigins.
func WithAllowedOrigins(origins []string) Option {
	return optionFunc(func(c *config) { c.allowedOrigins = origins })
}

// WithReadMaxBytes sets the largest request message accepted, after
// decompression; larger ones get resource_exhausted. A unary request body is
// also capped on the wire at this size plus framing. By default,
// DefaultReadMaxBytes (4 MiB).
func WithReadMaxBytes(n int) Option {
	return ifPositive(n, func(c *config) *int { return &c.readMaxBytes })
}

// WithHeartbeat sets how often an idle Subscribe stream gets a heartbeat and
// re-checks its token. By default, 15 seconds.
func WithHeartbeat(d time.Duration) Option {
	return ifPositive(d, func(c *config) *time.Duration { return &c.heartbeat })
}

// WithEditWindow sets how long after sending a sender may edit a message.
// By default, 24 hours (parley.DefaultEditWindow).
func WithEditWindow(d time.Duration) Option {
	return ifPositive(d, func(c *config) *time.Duration { return &c.editWindow })
}

// WithTokenTTL sets how long a session token is valid. By default, 30 days.
func WithTokenTTL(d time.Duration) Option {
	return ifPositive(d, func(c *config) *time.Duration { return &c.tokenTTL })
}

// WithNow sets the clock, for tests. By default, time.Now.
func WithNow(now func() time.Time) Option {
	return optionFunc(func(c *config) { c.now = now })
}

// WithTrustedProxies sets the proxies whose X-Forwarded-For header names
// the client address that per-address limits count (see clientIP). By
// default, none: the socket's peer is the client.
func WithTrustedProxies(prefixes []netip.Prefix) Option {
	return optionFunc(func(c *config) { c.trustedProxies = prefixes })
}

// DefaultBodyTimeout is how long a request body may take to arrive by
// default.
const DefaultBodyTimeout = 10 * time.Second

// WithBodyTimeout sets how long the body of a request may take to arrive,
// counted from the handler's start: the message of a unary call or of a
// server stream's request (Subscribe, Download), a REST body, anything but
// a client stream (Chat, Upload: long-lived by design, and only open to a
// signed-in user, whose open streams are capped). A body not read to its
// end by then fails with deadline_exceeded and, on HTTP/1.1, its
// connection is closed. By default, DefaultBodyTimeout (10 s): a 4 MiB
// message then needs 420 KB/s.
func WithBodyTimeout(d time.Duration) Option {
	return ifPositive(d, func(c *config) *time.Duration { return &c.bodyTimeout })
}

// DefaultStalledWriteTimeout is how long a response write may make no
// progress by default.
const DefaultStalledWriteTimeout = 30 * time.Second

// WithStalledWriteTimeout sets how long one write of a response (a
// message, or a flush) may wait for a client that does not read, for
// example one that holds an HTTP/2 stream at a zero flow-control window
// while it still answers pings: the stream is then reset (on HTTP/1.1 the
// connection is closed) and its handler ends, releasing what it held (the
// open file of a Download). An idle stream, writing nothing, is not
// affected. By default, DefaultStalledWriteTimeout (30 s).
func WithStalledWriteTimeout(d time.Duration) Option {
	return ifPositive(d, func(c *config) *time.Duration { return &c.writeStall })
}
