package server

import (
	"net/http"

	connectcors "connectrpc.com/cors"
	"github.com/rs/cors"
)

// cors lets browsers on the allowed origins call every protocol: the
// Connect/gRPC-Web request headers plus Authorization are allowed, and the
// gRPC-Web status headers exposed. No credentials (cookies) are involved:
// tokens travel in the Authorization header.
func (s *Server) cors(h http.Handler) http.Handler {
	if len(s.cfg.allowedOrigins) == 0 {
		// rs/cors treats an empty list as "every origin"; we mean none.
		return h
	}
	return cors.New(cors.Options{
		AllowedOrigins: s.cfg.allowedOrigins,
		AllowedMethods: connectcors.AllowedMethods(),
		AllowedHeaders: append(connectcors.AllowedHeaders(), "Authorization"),
		ExposedHeaders: connectcors.ExposedHeaders(),
		MaxAge:         7200, // seconds; Chromium caps preflight caching at 2 hours
	}).Handler(h)
}
