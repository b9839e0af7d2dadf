package server

import (
	"log/slog"
	"net/http"
	"time"
)

// NewHTTPServer returns the http.Server parleyd serves h with, configured
// for long-lived streams: a header timeout against slowloris but no read
// or write timeouts (they would cut streams); HTTP/1.1 plus HTTP/2 with
// prior knowledge (h2c), or by ALPN when useTLS; pings that find dead peers.
// The conformance, h2spec, hostile-traffic and benchmark runs use it too, so
// they test what production runs. Server errors go to logger at warn level.
//
// By default: ReadHeaderTimeout 10 s, IdleTimeout 2 min, 64 KiB of headers
// (also the HTTP/2 header list limit), 250 concurrent streams per HTTP/2
// connection, a ping after 30 s of silence answered within 15 s, and a peer
// that accepts no bytes for 30 s is dropped.
func NewHTTPServer(h http.Handler, useTLS bool, logger *slog.Logger) *http.Server {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	if useTLS {
		protocols.SetHTTP2(true)
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	return &http.Server{
		Handler:           h,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: 250,
			SendPingTimeout:      30 * time.Second,
			PingTimeout:          15 * time.Second,
			WriteByteTimeout:     30 * time.Second,
		},
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}
