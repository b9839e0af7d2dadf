package server

import (
	"context"

	"connectrpc.com/connect"
)

// RecoverPanic exposes the panic handler to the black-box tests: no Parley
// handler panics on purpose, so the tests call it directly.
func RecoverPanic(s *Server, p any) error {
	return s.recoverPanic(context.Background(), connect.Spec{Procedure: "/test.Panic/Now"}, nil, p)
}
