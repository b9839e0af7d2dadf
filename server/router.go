package server

import (
	"net/http"
	"strings"
)

// router sends a request for a mounted procedure straight to its handler
// with one map lookup: first the exact procedure path, then its service
// prefix ("/package.Service/"). Anything else, the web app included, goes
// to the ServeMux, which cleans paths and matches patterns (8% of a small
// unary call's handler time in the profile). The ServeMux knows every
// procedure handler too, so the answer is the same either way.
type router struct {
	exact, prefix map[string]http.Handler
	mux           *http.ServeMux
}

func newRouter() *router {
	return &router{exact: map[string]http.Handler{}, prefix: map[string]http.Handler{}, mux: http.NewServeMux()}
}

// handle mounts h at path, a procedure ("/pkg.Service/Method") or a
// service prefix ("/pkg.Service/"), as Connect's generated constructors
// return them.
func (r *router) handle(path string, h http.Handler) {
	r.mux.Handle(path, h)
	if strings.HasSuffix(path, "/") {
		r.prefix[path] = h
	} else {
		r.exact[path] = h
	}
}

// handleOther mounts h on the ServeMux alone, for patterns that are no
// procedure: the web app, the index page.
func (r *router) handleOther(pattern string, h http.Handler) {
	r.mux.Handle(pattern, h)
}

func (r *router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	path := req.URL.Path
	if h, ok := r.exact[path]; ok {
		h.ServeHTTP(w, req)
		return
	}
	if i := strings.LastIndexByte(path, '/'); i > 0 {
		if h, ok := r.prefix[path[:i+1]]; ok {
			h.ServeHTTP(w, req)
			return
		}
	}
	r.mux.ServeHTTP(w, req)
}
