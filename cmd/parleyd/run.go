package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/metrics"
	"github.com/parley-chat/parley/server"
	"github.com/parley-chat/parley/web"
)

// run starts parleyd and blocks until ctx ends (a signal), then shuts down:
// health turns NOT_SERVING, open streams end with unavailable, unary calls
// in flight get up to --shutdown-timeout to finish.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := parseConfig(args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	logger := newLogger(cfg, stdout)
	tracer, err := startTracing(ctx, getenv, logger)
	if err != nil {
		return err
	}
	var traceOpts []server.Option
	if tracer != nil {
		defer tracer.flush(ctx, logger)
		logger = slog.New(traceLogHandler{logger.Handler()})
		if traceOpts, err = tracer.serverOptions(cfg); err != nil {
			return err
		}
	}

	// The admin listener first: a refused address stops parleyd before it
	// opens anything else. Without it there are no metrics either.
	var (
		adminLn net.Listener
		m       *metrics.Metrics
		obs     *parley.Observer
	)
	if cfg.adminAddr != "" {
		if adminLn, err = listenAdmin(cfg.adminAddr, cfg.adminPublic); err != nil {
			return err
		}
		defer func() { _ = adminLn.Close() }() // the admin server may have closed it: no error to report
		engine := "sqlite"
		if cfg.db != "" {
			engine = "postgres"
		}
		m = metrics.New(engine)
		obs = m.Observer()
	}

	store, broker, closeStorage, err := openStorage(ctx, cfg, logger, obs)
	if err != nil {
		return err
	}
	defer closeStorage()

	opts := []server.Option{
		server.WithLogger(logger),
		server.WithAllowedOrigins(cfg.corsOrigins),
		server.WithReadMaxBytes(cfg.maxMessageBytes),
		server.WithHeartbeat(cfg.heartbeat),
		server.WithEditWindow(cfg.editWindow),
		server.WithTokenTTL(cfg.tokenTTL),
		server.WithMaxFileBytes(int64(cfg.maxFileBytes)),
		server.WithUploadExpiry(cfg.uploadExpiry),
		server.WithMaxUnaryDuration(cfg.maxUnaryDuration),
		server.WithLimits(cfg.limits),
		server.WithTrustedProxies(cfg.network.connections.TrustedProxies),
		server.WithBodyTimeout(cfg.network.bodyTimeout),
		server.WithStalledWriteTimeout(cfg.network.stalledWrites),
		server.WithWebApp(web.Handler()),
	}
	opts = append(opts, traceOpts...)
	fileOpts, err := fileStorage(cfg, store)
	if err != nil {
		return err
	}
	opts = append(opts, fileOpts...)
	if m != nil {
		opts = append(opts, m.ServerOptions()...)
	}
	handler := server.New(store, broker, opts...)
	go handler.WatchStore(ctx, storeHealthInterval)
	if adminLn != nil {
		m.WatchHealth(handler.Health)
		admin := newAdminServer(adminHandler(m, handler.Health))
		go func() { _ = admin.Serve(adminLn) }() // ends when Close closes adminLn
		defer func() { _ = admin.Close() }()     // after the public port's shutdown: /readyz reports the drain
		scope := "loopback only"
		if tcp, ok := adminLn.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
			scope = "PUBLIC, by --admin-public"
		}
		fmt.Fprintf(stdout, "parleyd admin on http://%s (metrics, pprof, probes; %s)\n", adminLn.Addr(), scope)
	}
	sweepCtx, stopSweep := context.WithCancel(ctx)
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		handler.SweepUploads(sweepCtx)
	}()
	defer func() { // before closeStorage: a sweep in progress stops first
		stopSweep()
		<-swept
	}()
	hs := server.NewHTTPServer(handler, cfg.tlsCert != "", logger)
	hs.RegisterOnShutdown(handler.Drain)

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	ln = server.LimitConnections(ln, cfg.network.connections)
	if cfg.network.bufferConnections {
		ln = server.BufferConnections(ln) // outside the caps: a refused connection gets no buffers
	}
	scheme := "http"
	if cfg.tlsCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "parleyd listening on %s://%s\n", scheme, ln.Addr())

	served := make(chan error, 1)
	go func() {
		if cfg.tlsCert != "" {
			served <- hs.ServeTLS(ln, cfg.tlsCert, cfg.tlsKey)
		} else {
			served <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.shutdownTimeout) // ctx has ended: that is why we shut down
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.logLevel}
	if cfg.logJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
