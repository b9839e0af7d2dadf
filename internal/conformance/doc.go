// Package conformance is the server under test for the Connect conformance
// suite (connectrpc.com/conformance): an implementation of
// connectrpc.conformance.v1.ConformanceService mounted into the production
// handler, server.New, with server.WithService, so that the suite exercises
// Parley's own middleware, limits, CORS and interceptors.
//
// The suite's Go code is generated at test time from the protos of the
// pinned module (tools/go.mod) into the git-ignored gen/ folder, so every
// file that needs it carries the build tag "conformance". Without the tag
// (a clean clone, `go test ./...`) only this file and the test that drives
// the suite compile; the test skips unless PARLEY_CONFORMANCE=1.
// Run it with `go tool -modfile=tools/go.mod task conformance`.
package conformance
