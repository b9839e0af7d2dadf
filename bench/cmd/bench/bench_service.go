package main

import (
	"context"
	"errors"
	"io"
	"net/http"

	"connectrpc.com/connect"
	"google.golang.org/grpc"

	benchv1 "github.com/parley-chat/parley/bench/gen/bench/v1"
	"github.com/parley-chat/parley/bench/gen/bench/v1/benchv1connect"
	"github.com/parley-chat/parley/server"
)

// The bench service (bench/api/bench/v1) with one body per method, served
// through grpc-go (grpcBench) and connect-go (connectBench). Payloads of a
// server stream share one read-only buffer: marshalling does not copy it
// into the message, only onto the wire, on every stack alike.

// streamPayload returns size bytes to send in every streamed message.
func streamPayload(size uint32) []byte { return make([]byte, size) }

type grpcBench struct {
	benchv1.UnimplementedBenchServiceServer
}

func (grpcBench) Unary(_ context.Context, req *benchv1.UnaryRequest) (*benchv1.UnaryResponse, error) {
	return &benchv1.UnaryResponse{Payload: req.GetPayload()}, nil
}

func (grpcBench) ServerStream(req *benchv1.ServerStreamRequest, stream grpc.ServerStreamingServer[benchv1.ServerStreamResponse]) error {
	payload := streamPayload(req.GetSize())
	for i := range req.GetCount() {
		if err := stream.Send(&benchv1.ServerStreamResponse{Seq: i, Payload: payload}); err != nil {
			return err
		}
	}
	return nil
}

func (grpcBench) Ping(stream grpc.BidiStreamingServer[benchv1.PingRequest, benchv1.PingResponse]) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&benchv1.PingResponse{Payload: req.GetPayload()}); err != nil {
			return err
		}
	}
}

type connectBench struct{}

func (connectBench) Unary(_ context.Context, req *connect.Request[benchv1.UnaryRequest]) (*connect.Response[benchv1.UnaryResponse], error) {
	return connect.NewResponse(&benchv1.UnaryResponse{Payload: req.Msg.GetPayload()}), nil
}

func (connectBench) ServerStream(_ context.Context, req *connect.Request[benchv1.ServerStreamRequest], stream *connect.ServerStream[benchv1.ServerStreamResponse]) error {
	payload := streamPayload(req.Msg.GetSize())
	for i := range req.Msg.GetCount() {
		if err := stream.Send(&benchv1.ServerStreamResponse{Seq: i, Payload: payload}); err != nil {
			return err
		}
	}
	return nil
}

func (connectBench) Ping(_ context.Context, stream *connect.BidiStream[benchv1.PingRequest, benchv1.PingResponse]) error {
	for {
		req, err := stream.Receive()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&benchv1.PingResponse{Payload: req.GetPayload()}); err != nil {
			return err
		}
	}
}

// mountBench mounts the bench service on Parley's server through
// server.WithService: the same middleware, limits and interceptors as
// Parley's own services (the option's handler options are passed through).
var mountBench server.MountFunc = func(opts ...connect.HandlerOption) (string, http.Handler) {
	return benchv1connect.NewBenchServiceHandler(connectBench{}, opts...)
}
