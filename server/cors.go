package server

import (
	"net/http"

	connectcors "connectrpc.com/cors"
	"github.com/rs/cors"
)

// cors lets browsers on the allowed origins call every protocol: the
// Connect/gRPC-Web request headers plus Authorization are allowed, and the
// gRPC-Web status headers exposed. Credentials are never allowed: other
// origins send tokens in the Authorization header, and the preflight of a
// credentialed request fails, which keeps the browser app's session cookie
// (session_cookie.go) to its own origin.
func (s *Server) cors(h http.Handler) http.Handler {
	if len(s.cfg.allowedOrigins) == 0 {
		// rs/cors treats an empty list as "every origin"; we mean none.
		return h
	}
	withCORS := cors.New(cors.Options{
		AllowedOrigins: s.cfg.allowedOrigins,
		AllowedMethods: append(connectcors.AllowedMethods(), http.MethodPut, http.MethodDelete), // PUT, DELETE: REST routes
		AllowedHeaders: append(connectcors.AllowedHeaders(), "Authorization", "Last-Event-ID"),  // Last-Event-ID: EventSource reconnecting (events_http.go)
		ExposedHeaders: connectcors.ExposedHeaders(),
		MaxAge:         7200, // seconds; Chromium caps preflight caching at 2 hours
	}).Handler(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A POST without Origin is no CORS request, and its answer is not
		// cached, so it needs no Vary: Origin either: skip the CORS work
		// (about a twentieth of a small unary call). GETs (Connect GET is
		// cacheable) and preflights always go through it.
		if r.Method == http.MethodPost && r.Header.Get("Origin") == "" {
			h.ServeHTTP(w, r)
			return
		}
		withCORS.ServeHTTP(w, r)
	})
}
