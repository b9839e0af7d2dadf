package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/gen/helloworld"
	"github.com/parley-chat/parley/gen/helloworld/helloworldconnect"
	"github.com/parley-chat/parley/server"
)

// BenchmarkTracedSayHello serves helloworld.Greeter/SayHello in process
// with tracing off (what parleyd runs without OTEL variables: no
// interceptor) and on (otelconnect with a provider that records every
// span and exports nowhere): the difference is what a traced call costs
// the server, the off case is server.New's own.
func BenchmarkTracedSayHello(b *testing.B) {
	on := &tracing{provider: sdktrace.NewTracerProvider()}
	traceOpts, err := on.serverOptions(config{})
	if err != nil {
		b.Fatal(err)
	}
	body, _ := proto.Marshal(&helloworld.HelloRequest{Name: ""})
	for _, h := range []struct {
		name string
		h    http.Handler
	}{
		{"off", server.New(nil, nil)},
		{"on", server.New(nil, nil, traceOpts...)},
	} {
		b.Run(h.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, helloworldconnect.GreeterSayHelloProcedure, bytes.NewReader(body))
				r.Header.Set("Content-Type", "application/proto")
				r.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
				w := httptest.NewRecorder()
				h.h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatal(w.Code, w.Body.String())
				}
			}
		})
	}
}
