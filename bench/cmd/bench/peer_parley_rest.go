package main

import (
	"net/http"

	"connectrpc.com/vanguard"
	"google.golang.org/genproto/googleapis/api/annotations"

	"github.com/parley-chat/parley/gen/helloworld/helloworldconnect"
)

// peerParleyREST is Parley answering SayHello as REST JSON, the call
// grpc-gateway's peer answers. Parley's own REST routes are parley.v1's
// (helloworld.Greeter's canonical proto carries no google.api.http
// annotation), so this peer puts in front of Parley's whole handler a
// vanguard transcoder set up as server/rest.go sets up its own (JSON to
// the client, Connect proto to the handler) with one bench-only rule,
// POST /v1/hello with the request as its body. The call then takes
// Parley's REST path: HTTP/1.1 + JSON -> vanguard -> a Connect proto call
// through every layer of server.New (its own /v1/ prefix check included)
// and back. Differences from a parley.v1 route: the transcoder runs
// outside Parley's CORS, call observers and authentication rather than
// inside them (they then see the Connect call, once either way), and it
// uses vanguard's default JSON codec rather than Parley's (which only
// also writes zero scalars).
const peerParleyREST = "parley-rest"

// greeterRESTPath is the bench-only REST route of SayHello.
const greeterRESTPath = "/v1/hello"

// greeterREST returns h with POST greeterRESTPath transcoded into the
// Connect call of SayHello; every other request reaches h after one path
// comparison, as Parley's own /v1/ prefix check does.
func greeterREST(h http.Handler) (http.Handler, error) {
	transcoder, err := vanguard.NewTranscoder(
		[]*vanguard.Service{vanguard.NewService(helloworldconnect.GreeterName, h)},
		vanguard.WithRules(&annotations.HttpRule{
			Selector: "helloworld.Greeter.SayHello",
			Pattern:  &annotations.HttpRule_Post{Post: greeterRESTPath},
			Body:     "*",
		}),
		vanguard.WithDefaultServiceOptions(
			vanguard.WithTargetProtocols(vanguard.ProtocolConnect),
			vanguard.WithTargetCodecs(vanguard.CodecProto),
		),
	)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == greeterRESTPath {
			transcoder.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	}), nil
}
