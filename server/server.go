// Package server is Parley's network API: one http.Handler that serves every
// Parley service, the canonical helloworld.Greeter, gRPC health checking and
// reflection over the Connect, gRPC and gRPC-Web protocols, with protobuf and
// JSON, over HTTP/1.1 and HTTP/2. routes.go shows the whole API on one screen.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/grpchealth"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/striped"
)

// Server is the Parley HTTP handler. Create it with New.
type Server struct {
	cfg     config
	store   parley.Store // the engine, behind observedStore when StoreOp observes
	engine  parley.Store // the engine itself (write probes)
	obs     *parley.Observer
	broker  parley.Broker
	health  *grpchealth.StaticChecker
	storage storageHealth // what health reports about storage (health.go)
	handler http.Handler
	streams *revocationHub // this process's streams, by what they rely on (revocation.go)
	// heartbeats times the heartbeats of every Subscribe stream
	// (heartbeat.go).
	heartbeats *heartbeatWheel
	auth       *authCache // sessions and memberships the store confirmed (auth_cache.go)
	// revocations carries revocations to every replica; nil when the
	// broker is not a parley.RevocationBroker: then only this process's
	// streams end at once.
	revocations parley.RevocationBroker
	locks       *striped.Locks // an upload's chunks, one at a time
	quotas      *quotas        // rate limits and quotas (quota.go)

	observers []CallObserver // told of every request (observeCalls, record)

	drain       context.Context
	startDrain  context.CancelFunc
	serviceList []string
}

// New returns a Server that keeps its data in store and fans live events out
// through broker. If broker is also a parley.RevocationBroker (inmem and
// postgres brokers are), sign-outs and ended memberships go through it to
// the streams and the auth caches of every replica at once; otherwise
// only this process's streams end at once, the others' at their next
// heartbeat, and the other replicas refuse the token or the membership
// once their cached copy is older than the auth cache's TTL
// (WithAuthCache). The defaults
// of every option are given on the option.
func New(store parley.Store, broker parley.Broker, opts ...Option) *Server {
	cfg := defaultConfig()
	for _, opt := range opts {
		opt.apply(&cfg)
	}
	if cfg.observer == nil {
		cfg.observer = &parley.Observer{}
	}
	s := &Server{
		cfg:        cfg,
		store:      store,
		engine:     store,
		obs:        cfg.observer,
		broker:     broker,
		streams:    newRevocationHub(),
		heartbeats: newHeartbeatWheel(cfg.heartbeat),
		auth:       newAuthCache(cfg.authCacheTTL, cfg.authCacheEntries),
		locks:      &striped.Locks{},
		quotas:     newQuotas(cfg.limits, cfg.now, cfg.tokenTTL, cfg.uploadExpiry, cfg.uploadSweepEvery()),
	}
	if start := cfg.observer.StoreOp; start != nil {
		s.store = &observedStore{Store: store, start: start}
	}
	s.cfg.files = s.quotas.limitUploads(s.cfg.files)
	if rb, ok := broker.(parley.RevocationBroker); ok {
		s.revocations = rb
		rb.HandleRevocations(s.revoked) // for the server's lifetime, as the broker's subscriptions are
	}
	// Calls are logged only at error level and above, so a logger that
	// drops errors drops every request line.
	if s.logger().Enabled(context.Background(), slog.LevelError) {
		s.observers = append(s.observers, s.logCall)
	}
	s.observers = append(s.observers, cfg.observers...)
	s.drain, s.startDrain = context.WithCancel(context.Background())
	s.handler = s.stack(s.serveREST)
	return s
}

// stack builds the handler: the routes with rest (s.serveREST) around the
// procedures, and every layer that wraps them.
func (s *Server) stack(rest func(http.Handler) http.Handler) http.Handler {
	h := holdStreamFlushes(s.routes(rest))
	h = s.endStreamsAtDrain(h)  // after routes: it needs s.serviceList
	h = translateGRPCWebText(h) // grpcwebtext.go: every layer inside sees binary gRPC-Web
	// Outermost, so that they watch the connection's own body and writer,
	// whatever wraps them inside.
	h = s.limitBodyTime(h)
	return s.dropStalledWrites(h)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// Drain prepares for shutdown: health checks report NOT_SERVING and every
// open stream ends with unavailable, carrying the position to resume from
// (a StreamPosition per room for Subscribe and Chat, an UploadPosition for
// Upload), also streams waiting for their client (endStreamsAtDrain).
// Register it with http.Server.RegisterOnShutdown, since Shutdown itself
// neither cancels handler contexts nor waits for them to notice.
func (s *Server) Drain() {
	s.health.SetStatus("", grpchealth.StatusNotServing)
	for _, name := range s.serviceList {
		s.health.SetStatus(name, grpchealth.StatusNotServing)
	}
	s.startDrain()
}

var errDraining = parley.Errorf(parley.EUNAVAILABLE, "server is shutting down; reconnect")

// draining returns errDraining once Drain was called.
func (s *Server) draining() error {
	if s.drain.Err() != nil {
		return errDraining
	}
	return nil
}

func (s *Server) now() time.Time { return s.cfg.now() }

func (s *Server) logger() *slog.Logger { return s.cfg.logger }

var errNoPrincipal = errors.New("no authenticated principal in context")
