package server

import (
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"connectrpc.com/vanguard"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
)

// restPrefix is where the REST routes live: the paths of the google.api.http
// annotations in api/parley/v1 (the table is in README.md).
const restPrefix = "/v1/"

// restBufferBytes bounds a REST response message vanguard buffers to
// translate (a ListMessages page of 500 long messages is about 8 MiB). REST
// request bodies are capped at readMaxBytes before they reach it (capRESTBodies).
const restBufferBytes = 64 << 20

// serveREST answers the REST routes by transcoding them (connectrpc.com/
// vanguard) into Connect calls of h, the same handler every other protocol
// reaches, so each route passes the same authorization gate, interceptors,
// limits and deadlines as its procedure. Only paths under /v1/ go through
// the transcoder: Connect, gRPC and gRPC-Web calls reach h as before, at
// the cost of one prefix check. A /v1/ path that is no route answers 404
// and a route asked with another method 405, both with a google.rpc.Status
// JSON body.
func (s *Server) serveREST(h http.Handler) http.Handler {
	inner := recordREST(h)
	var services []*vanguard.Service
	for _, name := range []string{
		parleyv1connect.AuthServiceName,
		parleyv1connect.RoomServiceName,
		parleyv1connect.MessageServiceName,
		parleyv1connect.FileServiceName,
	} {
		services = append(services, vanguard.NewService(name, inner))
	}
	transcoder, err := vanguard.NewTranscoder(services,
		vanguard.WithUnknownHandler(http.HandlerFunc(restNotFound)),
		vanguard.WithCodec(func(res vanguard.TypeResolver) vanguard.Codec { return newRESTJSON(res) }),
		vanguard.WithDefaultServiceOptions(
			vanguard.WithTargetProtocols(vanguard.ProtocolConnect),
			vanguard.WithTargetCodecs(vanguard.CodecProto),
			vanguard.WithMaxMessageBufferBytes(restBufferBytes),
			// A query parameter that names no field is ignored, as
			// grpc-gateway does (the transcoder would answer internal).
			vanguard.WithRESTUnmarshalOptions(vanguard.RESTUnmarshalOptions{DiscardUnknownQueryParams: true}),
		),
	)
	if err != nil {
		panic("server: REST routes: " + err.Error()) // the annotations are compiled in: a bug
	}
	rest := capRESTBodies(transcoder, s.cfg.readMaxBytes)
	return &restRouter{s: s, next: h, rest: rest}
}

// restRouter is the handler serveREST returns.
type restRouter struct {
	s    *Server
	next http.Handler
	rest http.Handler // the transcoder, its bodies capped
}

func (rt *restRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if room, ok := eventsRoom(r); ok {
		rt.s.serveEvents(w, r, room) // events_http.go: the stream no transcoder serves
		return
	}
	if strings.HasPrefix(r.URL.Path, restPrefix) {
		rt.rest.ServeHTTP(&restStatusWriter{ResponseWriter: w}, r)
		return
	}
	rt.next.ServeHTTP(w, r)
}

// capRESTBodies refuses a REST request body over readMax bytes (the same
// limit as any request message) with resource_exhausted before the
// transcoder buffers it, and a body on GET or DELETE (no route takes one)
// with invalid_argument, which the transcoder would answer internal.
func capRESTBodies(h http.Handler, readMax int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet || r.Method == http.MethodDelete) && r.ContentLength != 0 {
			writeRESTError(w, http.StatusBadRequest, connect.CodeInvalidArgument, r.Method+" routes take no request body")
			return
		}
		if r.ContentLength > int64(readMax) {
			writeRESTError(w, http.StatusTooManyRequests, connect.CodeResourceExhausted, "request body is larger than the server's limit")
			return
		}
		if r.Body != nil && r.ContentLength < 0 {
			r.Body = http.MaxBytesReader(w, r.Body, int64(readMax))
		}
		h.ServeHTTP(w, r)
	})
}

// recordREST tells observeCalls and interceptors (CallProtocol) which
// procedure a REST request became and that it came as REST
// (CallInfo.Protocol "rest"), in the record withClientIP, outside, made.
func recordREST(h http.Handler) http.Handler {
	return &restRecorder{next: h}
}

// restRecorder is the handler recordREST returns.
type restRecorder struct {
	next http.Handler
}

func (rec *restRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if info := requestInfoFrom(r.Context()); info != nil {
		info.call.procedure, info.call.protocol, info.call.codec = r.URL.Path, "rest", "json"
	}
	rec.next.ServeHTTP(w, r)
}

func restNotFound(w http.ResponseWriter, r *http.Request) {
	writeRESTError(w, http.StatusNotFound, connect.CodeNotFound, "no REST route "+r.Method+" "+r.URL.Path+"; see /openapi.yaml")
}

// restJSON is vanguard's JSON codec with malformed input reported as
// invalid_argument (400), as Connect's JSON codec does, instead of unknown.
// Answers carry every scalar and list, zero or not (so a client sees
// "nextPageToken":"" and "offset":"0"), but leave out message fields that
// are not set, as /openapi.yaml says, instead of writing them as null.
type restJSON struct{ *vanguard.JSONCodec }

func newRESTJSON(res vanguard.TypeResolver) restJSON {
	c := vanguard.NewJSONCodec(res)
	c.MarshalOptions.EmitUnpopulated = false
	c.MarshalOptions.EmitDefaultValues = true
	return restJSON{c}
}

func (c restJSON) Unmarshal(data []byte, msg proto.Message) error {
	return badJSON(c.JSONCodec.Unmarshal(data, msg))
}

func (c restJSON) UnmarshalField(data []byte, msg proto.Message, field protoreflect.FieldDescriptor) error {
	return badJSON(c.JSONCodec.UnmarshalField(data, msg, field))
}

func badJSON(err error) error {
	if err == nil {
		return nil
	}
	return connect.NewError(connect.CodeInvalidArgument, err)
}

// restStatusWriter gives vanguard's plain-text 405 (a route asked with
// another method) a google.rpc.Status JSON body like every other error, and
// labels every error body as the JSON it is: vanguard leaves the type of
// errors it finds in the request itself (a malformed body: application/proto,
// a bad query parameter: none) as it was.
type restStatusWriter struct {
	http.ResponseWriter
	swallow bool
}

func (w *restStatusWriter) WriteHeader(status int) {
	if status == http.StatusMethodNotAllowed && !w.swallow {
		w.swallow = true
		writeRESTError(w.ResponseWriter, status, connect.CodeUnimplemented, "this REST route does not answer that method; see the Allow header")
		return
	}
	if status >= http.StatusBadRequest {
		w.Header().Set("Content-Type", "application/json")
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *restStatusWriter) Write(b []byte) (int, error) {
	if w.swallow {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *restStatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
