// Package testserver starts the production Parley handler (server.New over
// SQLite and the in-process broker) on real sockets for tests: one listener
// for HTTP/1.1 and h2c, one for TLS with HTTP/2 by ALPN, and the matrix of
// connect-go clients (three protocols x two codecs x three transports).
package testserver

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"

	"github.com/parley-chat/parley/disk"
	"github.com/parley-chat/parley/inmem"
	"github.com/parley-chat/parley/server"
	"github.com/parley-chat/parley/sqlite"
)

// Server is a running Parley handler.
type Server struct {
	Handler *server.Server
	Store   *sqlite.Store
	Broker  *inmem.Broker
	// FilesDir holds uploaded contents (disk.Store).
	FilesDir string
	// URL serves HTTP/1.1 and h2c (HTTP/2 with prior knowledge).
	URL string
	// TLSURL serves HTTP/1.1 and HTTP/2 over TLS.
	TLSURL string

	tlsConfig *tls.Config
}

// Start runs a server until the test ends. Options go to server.New, with
// rate limits and quotas off unless an option sets them (server.WithLimits);
// the broker's queue size can be set with StartWithBroker.
func Start(tb testing.TB, opts ...server.Option) *Server {
	return StartWithBroker(tb, nil, opts...)
}

// StartWithBroker is Start with options for the in-process broker.
func StartWithBroker(tb testing.TB, brokerOpts []inmem.Option, opts ...server.Option) *Server {
	tb.Helper()
	store := OpenStore(tb)
	filesDir := filepath.Join(tb.TempDir(), "files")
	blobs, err := disk.New(filesDir)
	if err != nil {
		tb.Fatal(err)
	}
	broker := inmem.NewBroker(brokerOpts...)
	// Limits off unless the test sets them: load tests send thousands of
	// messages a second as one user; the limits have tests of their own.
	opts = append([]server.Option{server.WithFiles(store, blobs), server.WithLimits(server.Limits{})}, opts...)
	h := server.New(store, broker, opts...)

	plain := httptest.NewUnstartedServer(h)
	plain.Config.Protocols = new(http.Protocols)
	plain.Config.Protocols.SetHTTP1(true)
	plain.Config.Protocols.SetUnencryptedHTTP2(true)
	plain.Config.RegisterOnShutdown(h.Drain)
	plain.Start()
	tb.Cleanup(plain.Close)

	secure := httptest.NewUnstartedServer(h)
	secure.EnableHTTP2 = true
	secure.StartTLS()
	tb.Cleanup(secure.Close)
	// Cleanups run last-in first-out: end open streams before closing, as
	// parleyd's shutdown does, so Close need not wait for heartbeats.
	tb.Cleanup(h.Drain)

	return &Server{
		Handler:   h,
		Store:     store,
		Broker:    broker,
		FilesDir:  filesDir,
		URL:       plain.URL,
		TLSURL:    secure.URL,
		tlsConfig: secure.Client().Transport.(*http.Transport).TLSClientConfig,
	}
}

// OpenStore opens a SQLite store in a temporary directory, closed when the
// test ends.
func OpenStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "parley.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = store.Close() })
	return store
}

// TLSConfig trusts the server's certificate.
func (s *Server) TLSConfig() *tls.Config { return s.tlsConfig.Clone() }

// HTTP1Client speaks only HTTP/1.1.
func HTTP1Client() *http.Client {
	t := &http.Transport{Protocols: new(http.Protocols)}
	t.Protocols.SetHTTP1(true)
	return &http.Client{Transport: t}
}

// H2CClient speaks HTTP/2 with prior knowledge over plain TCP.
func H2CClient() *http.Client {
	t := &http.Transport{Protocols: new(http.Protocols)}
	t.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: t}
}

// TLSClient speaks HTTP/2 over TLS (ALPN), trusting the server.
func (s *Server) TLSClient() *http.Client {
	t := &http.Transport{Protocols: new(http.Protocols), TLSClientConfig: s.TLSConfig(), ForceAttemptHTTP2: true}
	t.Protocols.SetHTTP2(true)
	return &http.Client{Transport: t}
}

// Client is one cell of the client matrix: a transport, a base URL and the
// connect-go options that pick protocol and codec.
type Client struct {
	Name     string // e.g. "grpcweb/json/h2c"
	Protocol string // connect, grpc or grpcweb
	Codec    string // proto or json
	HTTP     string // http1, h2c or tls
	Client   *http.Client
	BaseURL  string
	Options  []connect.ClientOption
}

// Clients returns every protocol x codec x transport combination.
func (s *Server) Clients() []Client {
	type transport struct {
		name   string
		client *http.Client
		url    string
	}
	transports := []transport{
		{"http1", HTTP1Client(), s.URL},
		{"h2c", H2CClient(), s.URL},
		{"tls", s.TLSClient(), s.TLSURL},
	}
	var out []Client
	for _, t := range transports {
		for _, protocol := range []string{"connect", "grpc", "grpcweb"} {
			for _, codec := range []string{"proto", "json"} {
				out = append(out, NewClient(protocol, codec, t.name, t.client, t.url))
			}
		}
	}
	return out
}

// ProtocolOptions are the connect-go client options of protocol
// ("connect", "grpc", "grpcweb") and codec ("proto", "json").
func ProtocolOptions(protocol, codec string) []connect.ClientOption {
	var opts []connect.ClientOption
	switch protocol {
	case "grpc":
		opts = append(opts, connect.WithGRPC())
	case "grpcweb":
		opts = append(opts, connect.WithGRPCWeb())
	}
	if codec == "json" {
		opts = append(opts, connect.WithProtoJSON())
	}
	return opts
}

// NewClient returns the matrix cell for protocol (connect, grpc, grpcweb)
// and codec (proto, json) over client, named for transport (http1, h2c,
// tls), to a server at baseURL.
func NewClient(protocol, codec, transport string, client *http.Client, baseURL string) Client {
	return Client{
		Name: protocol + "/" + codec + "/" + transport, Protocol: protocol, Codec: codec, HTTP: transport,
		Client: client, BaseURL: baseURL, Options: ProtocolOptions(protocol, codec),
	}
}

// WithToken returns client options that send the bearer token.
func WithToken(token string) connect.ClientOption {
	return connect.WithInterceptors(bearer(token))
}

type bearer string

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}

func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		return conn
	}
}

func (b bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// From returns the same cell with a client that dials from the local
// address ip, so that the server sees another client address. Loopback
// accepts any source in 127.0.0.0/8: From("127.0.0.2") is a second client
// machine, as far as per-address limits can tell.
func (c Client) From(ip string) Client {
	t := c.Client.Transport.(*http.Transport).Clone()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	t.DialContext = dialer.DialContext
	c.Client = &http.Client{Transport: t}
	c.Name += " from " + ip
	return c
}
