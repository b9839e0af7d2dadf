package server

import (
	"context"
	"net/http"

	"connectrpc.com/connect"
)

// RecoverPanic exposes the panic handler to the black-box tests: no Parley
// handler panics on purpose, so the tests call it directly.
func RecoverPanic(s *Server, p any) error {
	return s.recoverPanic(context.Background(), connect.Spec{Procedure: "/test.Panic/Now"}, nil, p)
}

// WithoutFlushHold returns s's API built again without the flush hold on
// streaming procedures: the reference whose bytes the flush tests compare
// against. It rebuilds the routes (and the health checker), so use it
// only on a server made for the test.
func WithoutFlushHold(s *Server) http.Handler { return s.routes(s.serveREST) }

// WithoutREST returns s's handler built again without the REST transcoder
// (every other layer as server.New stacks them): the reference for what
// the transcoder costs Connect, gRPC and gRPC-Web calls. Like
// WithoutFlushHold, use it only on a server made for the test.
func WithoutREST(s *Server) http.Handler {
	return s.stack(func(h http.Handler) http.Handler { return h })
}

// HashToken is the store's key of a bearer token's session, for tests
// that change sessions in the store directly.
func HashToken(token string) []byte { return hashToken(token) }
