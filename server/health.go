package server

import (
	"context"
	"sync"
	"time"

	"connectrpc.com/grpchealth"

	"github.com/parley-chat/parley"
)

// storageHealth is what health checks report about storage: whether the
// last ping reached it, and whether writes fail for lack of space.
type storageHealth struct {
	mu          sync.Mutex
	unreachable bool   // the last ping failed
	full        bool   // a write failed with ESTORAGEFULL, and nothing since showed space again
	fullWrites  uint64 // how many writes failed with ESTORAGEFULL so far
}

// WatchStore pings the store every interval until ctx ends or the server
// drains. While pings fail, health checks report NOT_SERVING, so load
// balancers and clients that check health send their calls to another
// replica; once a ping succeeds again they report SERVING. Each ping may
// take up to interval. Calls that reach the server meanwhile fail with
// unavailable, as the store reports (see parley.EUNAVAILABLE). WatchStore
// blocks: run it in its own goroutine.
//
// A write that fails for lack of space (parley.ESTORAGEFULL, answered
// resource_exhausted) turns health NOT_SERVING at once; reads go on being
// served. From then on every tick probes a write on the store and on the
// file contents (parley.WriteProber, where they implement it); health
// returns to SERVING once every probe succeeds with no write failing in
// the meantime, or, where nothing can be probed, after a tick with no
// write failing.
func (s *Server) WatchStore(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var prevFullWrites uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.drain.Done():
			return
		case <-tick.C:
		}
		pingCtx, cancel := context.WithTimeout(ctx, interval)
		s.setReachable(s.store.Ping(pingCtx))
		s.storage.mu.Lock()
		full, fullWrites := s.storage.full, s.storage.fullWrites
		s.storage.mu.Unlock()
		if full {
			probed, err := s.probeWrites(pingCtx)
			if err == nil && (probed || fullWrites == prevFullWrites) {
				s.setWritable(fullWrites)
			}
		}
		prevFullWrites = fullWrites
		cancel()
	}
}

// setReachable records a ping's outcome.
func (s *Server) setReachable(err error) {
	s.storage.mu.Lock()
	defer s.storage.mu.Unlock()
	if unreachable := err != nil; unreachable != s.storage.unreachable {
		s.storage.unreachable = unreachable
		if unreachable {
			s.logger().Warn("storage unreachable; not serving", "err", err)
		} else {
			s.logger().Info("storage reachable again; serving")
		}
		s.updateHealthLocked()
	}
}

// storageFull is the hook every call that failed with parley.ESTORAGEFULL
// reaches (connectError): health turns NOT_SERVING until WatchStore finds
// that writes succeed again.
func (s *Server) storageFull(ctx context.Context, err error) {
	s.storage.mu.Lock()
	defer s.storage.mu.Unlock()
	s.storage.fullWrites++
	if !s.storage.full {
		s.storage.full = true
		s.logger().ErrorContext(ctx, "storage full: writes fail, reads go on; not serving until a probe write succeeds", "err", err)
		s.updateHealthLocked()
	}
}

// setWritable ends the full state, unless another write failed for lack of
// space since fullWrites was read.
func (s *Server) setWritable(fullWrites uint64) {
	s.storage.mu.Lock()
	defer s.storage.mu.Unlock()
	if s.storage.full && s.storage.fullWrites == fullWrites {
		s.storage.full = false
		s.logger().Info("storage writable again; serving")
		s.updateHealthLocked()
	}
}

// probeWrites probes a write on the store and on the file contents, those
// of them that can (parley.WriteProber); probed is false when none can.
func (s *Server) probeWrites(ctx context.Context) (probed bool, err error) {
	for _, st := range []any{s.engine, s.cfg.blobs} {
		if p, ok := st.(parley.WriteProber); ok {
			probed = true
			if err := p.ProbeWrite(ctx); err != nil {
				return true, err
			}
		}
	}
	return probed, nil
}

// updateHealthLocked sets the status of the server and of every service
// from the storage state; s.storage.mu is held, so concurrent updates
// cannot leave a stale status behind.
func (s *Server) updateHealthLocked() {
	s.setHealth(!s.storage.unreachable && !s.storage.full)
}

// setHealth sets the status of the server and of every service. Drain wins:
// once draining, it leaves NOT_SERVING in place.
func (s *Server) setHealth(serving bool) {
	status := grpchealth.StatusNotServing
	if serving && s.draining() == nil {
		status = grpchealth.StatusServing
	}
	s.health.SetStatus("", status)
	for _, name := range s.serviceList {
		s.health.SetStatus(name, status)
	}
	if s.draining() != nil { // Drain ran meanwhile: keep its verdict
		s.health.SetStatus("", grpchealth.StatusNotServing)
		for _, name := range s.serviceList {
			s.health.SetStatus(name, grpchealth.StatusNotServing)
		}
	}
}

// Health is what the server's health checks go by.
type Health struct {
	Draining         bool // Drain was called
	StoreUnreachable bool // the last ping of the store failed (WatchStore)
	StoreFull        bool // writes fail for lack of space, and no probe has succeeded since
}

// Serving reports whether health checks report SERVING: not draining, and
// the store reachable and writable.
func (h Health) Serving() bool { return !h.Draining && !h.StoreUnreachable && !h.StoreFull }

// Health returns the state health checks report now: a readiness probe
// (parleyd's /readyz) and metrics follow it.
func (s *Server) Health() Health {
	s.storage.mu.Lock()
	defer s.storage.mu.Unlock()
	return Health{Draining: s.draining() != nil, StoreUnreachable: s.storage.unreachable, StoreFull: s.storage.full}
}
