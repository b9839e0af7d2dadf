package server_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/gen/helloworld"
	"github.com/parley-chat/parley/gen/helloworld/helloworldconnect"
	"github.com/parley-chat/parley/metrics"
	"github.com/parley-chat/parley/server"
)

type minGreeter struct{}

func (minGreeter) SayHello(_ context.Context, req *connect.Request[helloworld.HelloRequest]) (*connect.Response[helloworld.HelloReply], error) {
	return connect.NewResponse(&helloworld.HelloReply{Message: "Hello " + req.Msg.GetName()}), nil
}

// namedHandler is one of the compared handlers.
type namedHandler struct {
	name string
	h    http.Handler
}

// greeterHandlers are the handlers the SayHello benchmarks compare: a bare
// connect-go Greeter on a ServeMux, and server.New with and without CORS
// and with metrics on (what parleyd's admin listener turns on).
func greeterHandlers() []namedHandler {
	mux := http.NewServeMux()
	mux.Handle(helloworldconnect.NewGreeterHandler(minGreeter{}, connect.WithCompressMinBytes(1024)))
	return []namedHandler{
		{"connect-min", mux},
		{"parley", server.New(nil, nil)},
		{"parley-nocors", server.New(nil, nil, server.WithAllowedOrigins(nil))},
		{"parley-metrics", server.New(nil, nil, metrics.New("sqlite").ServerOptions()...)},
		{"parley-observed", server.New(nil, nil, server.WithCallObserver(func(context.Context, server.CallInfo) {}))},
	}
}

// BenchmarkSayHello serves helloworld.Greeter/SayHello in process through
// server.New and through a bare connect-go handler: the difference in
// allocs/op is Parley's middleware and interceptors.
func BenchmarkSayHello(b *testing.B) {
	handlers := greeterHandlers()
	body, _ := proto.Marshal(&helloworld.HelloRequest{Name: ""})
	for _, h := range handlers {
		b.Run(h.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, helloworldconnect.GreeterSayHelloProcedure, bytes.NewReader(body))
				r.Header.Set("Content-Type", "application/proto")
				w := httptest.NewRecorder()
				h.h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatal(w.Code, w.Body.String())
				}
			}
		})
	}
}

// BenchmarkSayHelloH2C is BenchmarkSayHello over a real h2c listener, with
// both handlers served by NewHTTPServer and by a default http.Server. The
// client's allocations are counted too; compare differences.
func BenchmarkSayHelloH2C(b *testing.B) {
	handlers := greeterHandlers()
	servers := []struct {
		name string
		new  func(http.Handler) *http.Server
	}{
		{"default", func(h http.Handler) *http.Server {
			p := new(http.Protocols)
			p.SetHTTP1(true)
			p.SetUnencryptedHTTP2(true)
			return &http.Server{Handler: h, Protocols: p, ReadHeaderTimeout: 10 * time.Second}
		}},
		{"NewHTTPServer", func(h http.Handler) *http.Server {
			return server.NewHTTPServer(h, false, slog.New(slog.DiscardHandler))
		}},
	}
	for _, s := range servers {
		for _, h := range handlers {
			for _, proto := range []string{"grpc", "connect"} {
				b.Run(s.name+"/"+h.name+"/"+proto, func(b *testing.B) {
					ts := httptest.NewUnstartedServer(h.h)
					ts.Config = s.new(h.h)
					ts.Start()
					defer ts.Close()
					t := &http.Transport{Protocols: new(http.Protocols)}
					t.Protocols.SetUnencryptedHTTP2(true)
					defer t.CloseIdleConnections()
					var opts []connect.ClientOption
					if proto == "grpc" {
						opts = append(opts, connect.WithGRPC())
					}
					client := helloworldconnect.NewGreeterClient(&http.Client{Transport: t}, ts.URL, opts...)
					ctx := context.Background()
					b.ReportAllocs()
					for b.Loop() {
						if _, err := client.SayHello(ctx, connect.NewRequest(&helloworld.HelloRequest{})); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
