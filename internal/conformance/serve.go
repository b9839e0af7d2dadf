//go:build conformance

package conformance

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/inmem"
	conformancev1 "github.com/parley-chat/parley/internal/conformance/gen/connectrpc/conformance/v1"
	"github.com/parley-chat/parley/server"
	"github.com/parley-chat/parley/sqlite"
)

// Serve speaks the suite's server protocol: it reads one size-delimited
// ServerCompatRequest from in, starts Parley's production handler on an
// ephemeral loopback port with the ConformanceService mounted, writes the
// ServerCompatResponse to out and serves until ctx ends. Data lives in a
// temporary directory removed on return.
func Serve(ctx context.Context, in io.Reader, out io.Writer, logger *slog.Logger) error {
	var req conformancev1.ServerCompatRequest
	if err := readDelimited(in, &req); err != nil {
		return fmt.Errorf("read request: %w", err)
	}

	dir, err := os.MkdirTemp("", "parley-conformance-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	store, err := sqlite.Open(ctx, filepath.Join(dir, "parley.db"))
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer store.Close()

	handler := server.New(store, inmem.NewBroker(),
		server.WithLogger(logger),
		server.WithReadMaxBytes(int(req.GetMessageReceiveLimit())),
		server.WithService(Mount),
	)
	hs := server.NewHTTPServer(handler, req.GetUseTls(), logger)
	hs.RegisterOnShutdown(handler.Drain)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ln = server.BufferConnections(ln) // below TLS, as parleyd wraps it
	var pemCert []byte
	if req.GetUseTls() {
		cert, err := tls.X509KeyPair(req.GetServerCreds().GetCert(), req.GetServerCreds().GetKey())
		if err != nil {
			return fmt.Errorf("server credentials: %w", err)
		}
		// As ServeTLS does: HTTP/2 offered first by ALPN, then HTTP/1.1.
		config := &tls.Config{
			Certificates: []tls.Certificate{cert},
			NextProtos:   []string{"h2", "http/1.1"},
			MinVersion:   tls.VersionTLS12,
		}
		// parleyd has no client certificates; the suite's mTLS cases run
		// the same handler over a listener that requires them.
		if clientCert := req.GetClientTlsCert(); len(clientCert) > 0 {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(clientCert) {
				return fmt.Errorf("client certificate: no PEM certificate")
			}
			config.ClientCAs = pool
			config.ClientAuth = tls.RequireAndVerifyClientCert
		}
		ln = tls.NewListener(ln, config)
		pemCert = req.GetServerCreds().GetCert()
	}
	addr := ln.Addr().(*net.TCPAddr)
	if err := writeDelimited(out, &conformancev1.ServerCompatResponse{
		Host:    addr.IP.String(),
		Port:    uint32(addr.Port),
		PemCert: pemCert,
	}); err != nil {
		return fmt.Errorf("write response: %w", err)
	}

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return hs.Shutdown(shutdownCtx)
}

func readDelimited(r io.Reader, msg proto.Message) error {
	var size uint32
	if err := binary.Read(r, binary.BigEndian, &size); err != nil {
		return err
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(r, buf); err != nil {
		return err
	}
	return proto.Unmarshal(buf, msg)
}

func writeDelimited(w io.Writer, msg proto.Message) error {
	buf, err := proto.Marshal(msg)
	if err != nil {
		return err
	}
	if err := binary.Write(w, binary.BigEndian, uint32(len(buf))); err != nil {
		return err
	}
	_, err = w.Write(buf)
	return err
}
