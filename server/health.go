package server

import (
	"context"
	"time"

	"connectrpc.com/grpchealth"
)

// WatchStore pings the store every interval until ctx ends or the server
// drains. While pings fail, health checks report NOT_SERVING, so load
// balancers and clients that check health send their calls to another
// replica; once a ping succeeds again they report SERVING. Each ping may
// take up to interval. Calls that reach the server meanwhile fail with
// unavailable, as the store reports (see parley.EUNAVAILABLE). WatchStore
// blocks: run it in its own goroutine.
func (s *Server) WatchStore(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	serving := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.drain.Done():
			return
		case <-tick.C:
		}
		pingCtx, cancel := context.WithTimeout(ctx, interval)
		err := s.store.Ping(pingCtx)
		cancel()
		if ok := err == nil; ok != serving {
			serving = ok
			if ok {
				s.logger().Info("storage reachable again; serving")
			} else {
				s.logger().Warn("storage unreachable; not serving", "err", err)
			}
			s.setHealth(ok)
		}
	}
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
