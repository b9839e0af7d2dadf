package server

import (
	"context"

	"connectrpc.com/connect"
)

// callAs runs one unary call of a Connect adapter as the authenticated
// caller and wraps its result with toProto: a context without a principal,
// or a failed call, returns that error as is and no response.
func callAs[T, Res any](ctx context.Context, call func(*principal) (T, error), toProto func(T) *Res) (*connect.Response[Res], error) {
	p, err := principalFrom(ctx)
	if err != nil {
		return nil, err
	}
	v, err := call(p)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(toProto(v)), nil
}
