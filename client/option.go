package client

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/connect"
)

// Protocol is the RPC protocol a client speaks.
type Protocol string

// The protocols Parley serves.
const (
	ProtocolConnect Protocol = "connect"
	ProtocolGRPC    Protocol = "grpc"
	ProtocolGRPCWeb Protocol = "grpcweb"
)

// Codec is the message encoding a client uses.
type Codec string

// The codecs Parley serves.
const (
	CodecProto Codec = "proto"
	CodecJSON  Codec = "json"
)

// Option configures a Client.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	protocol    Protocol
	codec       Codec
	http1       bool
	tls         bool // set by New from the URL scheme
	tlsConfig   *tls.Config
	httpClient  *http.Client
	token       string
	timeout     time.Duration
	dialTimeout time.Duration
	minBackoff  time.Duration
	maxBackoff  time.Duration
	logger      *slog.Logger
	replicas    []string
}

// WithReplicas names other base URLs of the same service: replicas sharing
// one database. Requests go to one address at a time; when it cannot be
// reached the client moves to the next, and streams resume there from the
// last seq they delivered. The URLs must use the base URL's scheme. By
// default, only the base URL is used (a load balancer can stand in front).
func WithReplicas(baseURLs ...string) Option {
	return optionFunc(func(c *config) { c.replicas = append(c.replicas, baseURLs...) })
}

func defaultConfig() config {
	return config{
		protocol:    ProtocolConnect,
		codec:       CodecProto,
		timeout:     30 * time.Second,
		dialTimeout: 10 * time.Second,
		minBackoff:  100 * time.Millisecond,
		maxBackoff:  5 * time.Second,
		logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func (cfg *config) validate() error {
	switch cfg.protocol {
	case ProtocolConnect, ProtocolGRPC, ProtocolGRPCWeb:
	default:
		return fmt.Errorf("protocol %q: want connect, grpc or grpcweb", cfg.protocol)
	}
	switch cfg.codec {
	case CodecProto, CodecJSON:
	default:
		return fmt.Errorf("codec %q: want proto or json", cfg.codec)
	}
	return nil
}

func (cfg *config) connectOptions() []connect.ClientOption {
	var opts []connect.ClientOption
	switch cfg.protocol {
	case ProtocolGRPC:
		opts = append(opts, connect.WithGRPC())
	case ProtocolGRPCWeb:
		opts = append(opts, connect.WithGRPCWeb())
	}
	if cfg.codec == CodecJSON {
		opts = append(opts, connect.WithProtoJSON())
	}
	return opts
}

// WithProtocol sets the RPC protocol: ProtocolConnect, ProtocolGRPC or
// ProtocolGRPCWeb. New rejects any other value. By default, ProtocolConnect.
func WithProtocol(p Protocol) Option {
	return optionFunc(func(c *config) { c.protocol = p })
}

// WithCodec sets the message encoding: CodecProto or CodecJSON. New rejects
// any other value. By default, CodecProto.
func WithCodec(codec Codec) Option {
	return optionFunc(func(c *config) { c.codec = codec })
}

// WithHTTP1 makes the client speak HTTP/1.1 only, for servers or proxies
// without HTTP/2. Chat (a bidirectional stream) needs HTTP/2 and fails
// at once with ENOTIMPLEMENTED. By default, http:// URLs use h2c (HTTP/2
// with prior knowledge) and https:// URLs negotiate HTTP/2 by ALPN.
func WithHTTP1() Option {
	return optionFunc(func(c *config) { c.http1 = true })
}

// WithTLSConfig sets the TLS configuration for https:// URLs, e.g. with
// RootCAs trusting a private CA. By default, the system's roots.
func WithTLSConfig(t *tls.Config) Option {
	return optionFunc(func(c *config) { c.tlsConfig = t })
}

// WithHTTPClient makes the client send every request through hc, ignoring
// WithHTTP1, WithTLSConfig and WithDialTimeout. By default, the client
// builds its own transport.
func WithHTTPClient(hc *http.Client) Option {
	return optionFunc(func(c *config) { c.httpClient = hc })
}

// WithToken sets the bearer token sent with every Parley call. SignUp and
// SignIn replace it, SignOut clears it. By default, none.
func WithToken(token string) Option {
	return optionFunc(func(c *config) { c.token = token })
}

// WithTimeout bounds each unary call whose context has no deadline; 0 means
// no bound. Streams are never bounded. By default, 30 seconds.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d >= 0 {
			c.timeout = d
		}
	})
}

// WithDialTimeout bounds connecting to the server, TLS handshake included.
// By default, 10 seconds.
func WithDialTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.dialTimeout = d
		}
	})
}

// WithBackoff sets how long streams and retried calls wait before trying
// again: first after the first failure, doubling (each wait jittered to
// between half and all of it) up to limit. A stream that delivered
// anything starts again from first. By default, 100 ms and 5 seconds.
func WithBackoff(first, limit time.Duration) Option {
	return optionFunc(func(c *config) {
		if first > 0 && limit >= first {
			c.minBackoff, c.maxBackoff = first, limit
		}
	})
}

// WithLogger sets where the client reports reconnects (at Warn) and the
// errors behind them. By default, nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}
