package server

import (
	"net/http"

	"connectrpc.com/authn"
	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"

	"github.com/parley-chat/parley/api"
	"github.com/parley-chat/parley/gen/helloworld/helloworldconnect"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
)

// routes builds the whole API. Middleware runs outside in: CORS, the
// observers of every request (the request log), authentication (before any
// body is read, on the request as the client sent it, so REST routes follow
// the session cookie's rules too), the client address for per-address
// limits, the REST transcoder (its routes become Connect calls of what
// follows), the wire-size cap, then the mux. Authorization is a
// request gate on the Parley services, decided on the parsed procedure.
func (s *Server) routes() http.Handler {
	common := s.handlerOptions()
	parleyOpts := append(common[:len(common):len(common)], connect.WithRequestGate(s.authorize))

	mux := newRouter()
	mux.handle(helloworldconnect.NewGreeterHandler(greeter{}, common...))
	mux.handle(parleyv1connect.NewAuthServiceHandler(&authHandler{s}, parleyOpts...))
	mux.handle(parleyv1connect.NewRoomServiceHandler(&roomHandler{s}, parleyOpts...))
	// The services with client streams (Chat, Upload) count what each
	// stream carries, to cap it (streambytes_connect.go).
	streamOpts := append(parleyOpts[:len(parleyOpts):len(parleyOpts)], streamBytesOptions()...)
	mux.handle(parleyv1connect.NewMessageServiceHandler(&messageHandler{s: s}, streamOpts...))
	mux.handle(parleyv1connect.NewFileServiceHandler(&fileHandler{s: s}, streamOpts...))
	// Subscribe is built by hand so its frames can carry events encoded once
	// and shared by every subscriber (see codec_connect.go). Its exact path wins
	// over the service's prefix above.
	mux.handle(parleyv1connect.MessageServiceSubscribeProcedure, connect.NewServerStreamHandler(
		parleyv1connect.MessageServiceSubscribeProcedure,
		s.serveSubscribe,
		append(parleyOpts, subscribeOptions()...)...,
	))

	s.serviceList = []string{
		helloworldconnect.GreeterName,
		parleyv1connect.AuthServiceName,
		parleyv1connect.RoomServiceName,
		parleyv1connect.MessageServiceName,
		parleyv1connect.FileServiceName,
	}
	s.health = grpchealth.NewStaticChecker(s.serviceList...)
	mux.handle(grpchealth.NewHandler(s.health, common...))
	// grpchealth keeps its descriptors out of the global registry (so it
	// cannot clash with grpc-go's copy), hence health is not reflected.
	reflected := append(s.serviceList[:len(s.serviceList):len(s.serviceList)],
		grpcreflect.ReflectV1ServiceName,
		grpcreflect.ReflectV1AlphaServiceName,
	)
	reflector := grpcreflect.NewStaticReflector(reflected...)
	mux.handle(grpcreflect.NewHandlerV1(reflector, common...))
	mux.handle(grpcreflect.NewHandlerV1Alpha(reflector, common...))

	for _, mount := range s.cfg.extraServices {
		mux.handle(mount(common...))
	}
	mux.handleOther("GET /openapi.yaml", http.HandlerFunc(serveOpenAPI))
	if s.cfg.webApp != nil {
		mux.handleOther("/", s.cfg.webApp)
	} else {
		mux.handleOther("GET /{$}", http.HandlerFunc(serveIndex))
	}

	var h http.Handler = mux
	h = capUnaryBodies(h, unaryProcedures(s.serviceList), s.cfg.readMaxBytes)
	h = s.serveREST(h) // rest.go: REST routes become Connect calls of everything inside
	h = withClientIP(h)
	h = authn.NewMiddleware(s.authenticate, common...).Wrap(h)
	h = s.observeCalls(h)
	h = s.cors(h)
	return h
}

// handlerOptions are the options every Connect handler gets. The
// interceptors of WithInterceptors wrap Parley's own.
func (s *Server) handlerOptions() []connect.HandlerOption {
	return []connect.HandlerOption{
		connect.WithReadMaxBytes(s.cfg.readMaxBytes),
		connect.WithCompressMinBytes(1024),
		connect.WithRecover(s.recoverPanic),
		connect.WithInterceptors(s.cfg.interceptors...),
		connect.WithInterceptors(&rpcInterceptor{s}),
	}
}

// serveIndex answers GET / until the web app lives there.
func serveIndex(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("Parley is running. See README.md for how to talk to it.\n"))
}

// serveOpenAPI answers GET /openapi.yaml with the REST routes' OpenAPI 3.1
// document (api.OpenAPI).
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(api.OpenAPI)
}
