package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestRouterMatchesServeMux: the map lookup finds what the ServeMux would
// for procedure paths (an exact procedure wins over its service's prefix),
// and leaves every other path to the ServeMux.
func TestRouterMatchesServeMux(t *testing.T) {
	named := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(name)) })
	}
	r := newRouter()
	r.handle("/pkg.Service/", named("service"))
	r.handle("/pkg.Service/Special", named("special"))
	r.handleOther("/", named("app"))
	for path, want := range map[string]string{
		"/pkg.Service/Method":     "service",
		"/pkg.Service/Special":    "special",
		"/pkg.Service/":           "service",
		"/pkg.Other/Method":       "app",
		"/":                       "app",
		"/pkg.Service/a/b":        "service", // not a procedure path: the ServeMux decides, by prefix
		"/static/pkg.Service/Foo": "app",
	} {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, nil))
		if got := rec.Body.String(); got != want {
			t.Errorf("%s: served by %q, want %q", path, got, want)
		}
		viaMux := httptest.NewRecorder()
		r.mux.ServeHTTP(viaMux, httptest.NewRequest(http.MethodPost, path, nil))
		if viaMux.Body.String() != want {
			t.Errorf("%s: the ServeMux alone serves %q, want %q", path, viaMux.Body.String(), want)
		}
	}
}
