package server

import (
	"net/http"

	"connectrpc.com/connect"
)

// MountFunc mounts one more Connect service. It receives the options every
// Parley handler gets (limits, compression, interceptors, panic recovery)
// and returns the service's path prefix and handler, like the generated
// New*Handler functions.
type MountFunc func(opts ...connect.HandlerOption) (string, http.Handler)

// WithService mounts an extra Connect service behind the same middleware,
// limits and interceptors as Parley's own (the conformance suite's service
// uses this, so that it tests the production stack). Extra services are
// public: authentication applies only to the Parley services.
func WithService(mount MountFunc) Option {
	return optionFunc(func(c *config) { c.extraServices = append(c.extraServices, mount) })
}

// interceptorList holds the interceptors given with WithInterceptors.
type interceptorList []connect.Interceptor

// WithInterceptors adds interceptors to every RPC handler, Parley's own and
// those mounted with WithService, outside Parley's own interceptor: they
// see each call as the client made it and the Connect error it ends with
// (metrics, tracing). The first given is the outermost. By default, there
// are none.
func WithInterceptors(interceptors ...connect.Interceptor) Option {
	return optionFunc(func(c *config) { c.interceptors = append(c.interceptors, interceptors...) })
}
