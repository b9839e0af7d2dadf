package server

import (
	"context"

	"connectrpc.com/connect"

	"github.com/parley-chat/parley/gen/helloworld"
	"github.com/parley-chat/parley/gen/helloworld/helloworldconnect"
)

// greeter serves the canonical helloworld.Greeter.
type greeter struct{}

var _ helloworldconnect.GreeterHandler = greeter{}

func (greeter) SayHello(_ context.Context, req *connect.Request[helloworld.HelloRequest]) (*connect.Response[helloworld.HelloReply], error) {
	return connect.NewResponse(&helloworld.HelloReply{Message: "Hello " + req.Msg.GetName()}), nil
}
