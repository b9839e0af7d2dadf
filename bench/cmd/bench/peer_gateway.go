package main

import (
	"context"
	"net"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	helloworldgw "github.com/parley-chat/parley/bench/gateway/helloworld"
)

// peerGateway is grpc-gateway v2 in front of grpc-go: the usual way to
// offer JSON over HTTP/1.1 beside gRPC. The gateway (runtime.ServeMux with
// its default JSON marshaler) and the grpc-go server run in this one child
// process, joined by a loopback gRPC connection, so the child's CPU is the
// whole JSON path: HTTP/1.1 + JSON -> gRPC client -> gRPC server and back.
// The route is POST /helloworld.Greeter/SayHello (generate_unbound_methods),
// the same path and JSON body Parley's Connect JSON unary call uses.
const peerGateway = "grpc-gateway"

// serveGateway serves gatewayHandler on lis.
func serveGateway(lis net.Listener) error {
	h, err := gatewayHandler()
	if err != nil {
		return err
	}
	s := h2cServer(h)
	go func() { _ = s.Serve(lis) }()
	return nil
}

// gatewayHandler starts the grpc-go backend on its own loopback port (for
// the process's lifetime) and returns the gateway in front of it.
func gatewayHandler() (http.Handler, error) {
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g := grpc.NewServer()
	helloworldgw.RegisterGreeterServer(g, gatewayGreeter{})
	go func() { _ = g.Serve(backend) }()
	mux := runtime.NewServeMux()
	creds := grpc.WithTransportCredentials(insecure.NewCredentials())
	if err := helloworldgw.RegisterGreeterHandlerFromEndpoint(context.Background(), mux, backend.Addr().String(), []grpc.DialOption{creds}); err != nil {
		return nil, err
	}
	return mux, nil
}

// gatewayGreeter is greeterImpl registered through the generated stubs.
type gatewayGreeter struct {
	helloworldgw.UnimplementedGreeterServer
	greeterImpl
}

func (g gatewayGreeter) SayHello(ctx context.Context, req *helloworldgw.HelloRequest) (*helloworldgw.HelloReply, error) {
	return g.greeterImpl.SayHello(ctx, req)
}
