// Package client is the Go client library for Parley. It wraps the
// generated connect-go clients, speaks the Connect, gRPC or gRPC-Web
// protocol with protobuf or JSON over HTTP/1.1, h2c or TLS, and returns the
// domain types of package parley with errors as *parley.Error.
//
// Streams recover by themselves: Subscribe and Chat reconnect with backoff
// and resume from the last seq they delivered, dropping duplicates by seq;
// Upload continues a broken upload from the offset the server reports.
package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/parley-chat/parley/gen/helloworld/helloworldconnect"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
)

// Client calls one Parley server. It is safe for concurrent use.
type Client struct {
	cfg     config
	baseURL string

	auth     parleyv1connect.AuthServiceClient
	rooms    parleyv1connect.RoomServiceClient
	messages parleyv1connect.MessageServiceClient
	files    parleyv1connect.FileServiceClient
	greeter  helloworldconnect.GreeterClient

	mu    sync.Mutex
	token string
}

// New returns a client for the server at baseURL, e.g.
// "http://localhost:8080" or "https://chat.example.com".
//
// By default, it speaks the Connect protocol with protobuf, over HTTP/2
// without TLS (h2c, prior knowledge) for http:// URLs and over HTTP/2 or
// HTTP/1.1 by ALPN for https:// URLs, trusting the system's CAs.
func New(baseURL string, opts ...Option) (*Client, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("server URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http://host:port or https://host:port", baseURL)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.tls = u.Scheme == "https"
	hc := cfg.httpClient
	if hc == nil {
		hc = &http.Client{Transport: cfg.transport()}
		if len(cfg.replicas) > 0 {
			f, err := newFailover(hc.Transport, u, cfg.replicas)
			if err != nil {
				return nil, err
			}
			hc.Transport = f
		}
	}
	c := &Client{cfg: cfg, baseURL: baseURL, token: cfg.token}
	copts := append(cfg.connectOptions(), connect.WithInterceptors(bearer{c}))
	c.auth = parleyv1connect.NewAuthServiceClient(hc, baseURL, copts...)
	c.rooms = parleyv1connect.NewRoomServiceClient(hc, baseURL, copts...)
	c.messages = parleyv1connect.NewMessageServiceClient(hc, baseURL, copts...)
	c.files = parleyv1connect.NewFileServiceClient(hc, baseURL, copts...)
	c.greeter = helloworldconnect.NewGreeterClient(hc, baseURL, cfg.connectOptions()...)
	return c, nil
}

// BaseURL returns the server URL the client was made for.
func (c *Client) BaseURL() string { return c.baseURL }

// Token returns the bearer token the client sends: the one given with
// WithToken or obtained by the last SignUp or SignIn.
func (c *Client) Token() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// SetToken replaces the bearer token; "" sends none.
func (c *Client) SetToken(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.token = token
}

// transport builds the HTTP transport for the configured HTTP version.
func (cfg *config) transport() *http.Transport {
	dialer := &net.Dialer{Timeout: cfg.dialTimeout, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Protocols:           new(http.Protocols),
		DialContext:         dialer.DialContext,
		TLSHandshakeTimeout: cfg.dialTimeout,
		HTTP2: &http.HTTP2Config{
			// Find a dead server (a pulled cable, a crashed host) on a quiet
			// stream: ping after 30 s of silence, give up 15 s later.
			SendPingTimeout: 30 * time.Second,
			PingTimeout:     15 * time.Second,
		},
	}
	switch {
	case cfg.http1:
		t.Protocols.SetHTTP1(true)
	case cfg.tls:
		t.Protocols.SetHTTP1(true)
		t.Protocols.SetHTTP2(true)
		t.ForceAttemptHTTP2 = true
	default:
		t.Protocols.SetUnencryptedHTTP2(true)
	}
	if cfg.tls {
		t.TLSClientConfig = cfg.tlsConfig
		if t.TLSClientConfig == nil {
			t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}
	return t
}

// unaryContext applies the unary timeout unless ctx already has a deadline.
func (c *Client) unaryContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || c.cfg.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.cfg.timeout)
}

// unary makes one unary call of a generated client with the unary
// timeout (see unaryContext) and returns the response message, or the
// call's error as a domain error.
func unary[Req, Res any](ctx context.Context, c *Client, call func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error), req *Req) (*Res, error) {
	ctx, cancel := c.unaryContext(ctx)
	defer cancel()
	res, err := call(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, domainError(ctx, err)
	}
	return res.Msg, nil
}

// bearer adds the client's current token to every Parley request.
type bearer struct{ c *Client }

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if t := b.c.Token(); t != "" {
			req.Header().Set("Authorization", "Bearer "+t)
		}
		return next(ctx, req)
	}
}

func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if t := b.c.Token(); t != "" {
			conn.RequestHeader().Set("Authorization", "Bearer "+t)
		}
		return conn
	}
}

func (b bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
