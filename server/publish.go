package server

import (
	"context"
	"time"

	"github.com/parley-chat/parley"
)

// publish hands e to the broker, stamped with the time (delivery latency
// runs from it), and tells the Observer. e must not have been shared yet.
func (s *Server) publish(ctx context.Context, e *parley.Event) {
	e.Published = time.Now()
	if start := s.obs.Publish; start != nil {
		defer start(ctx, e)()
	}
	s.broker.Publish(e)
}

// publisher is publish bound to ctx: the publish function the store calls
// after a commit.
func (s *Server) publisher(ctx context.Context) func(*parley.Event) {
	return func(e *parley.Event) { s.publish(ctx, e) }
}
