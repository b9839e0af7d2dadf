package server

import (
	"context"
	"log/slog"
)

// logCall is the request log, a CallObserver: one line per request with
// procedure, protocol, codec, HTTP version, code, duration and bytes read
// and written. Calls that ended with internal or unknown are logged at
// error level; requests that are not RPCs at debug level.
func (s *Server) logCall(ctx context.Context, call CallInfo) {
	log := s.logger()
	if !call.IsRPC() {
		if log.Enabled(ctx, slog.LevelDebug) {
			log.LogAttrs(ctx, slog.LevelDebug, "http",
				slog.String("method", call.Method), slog.String("path", call.Path),
				slog.Int("status", call.Status), slog.String("http", call.HTTPVersion),
				slog.Duration("duration", call.Duration))
		}
		return
	}
	level := slog.LevelInfo
	if call.Code == "internal" || call.Code == "unknown" {
		level = slog.LevelError
	}
	if !log.Enabled(ctx, level) {
		return // don't build attributes for a line that would be dropped
	}
	log.LogAttrs(ctx, level, "rpc",
		slog.String("procedure", call.Procedure),
		slog.String("protocol", call.Protocol),
		slog.String("codec", call.Codec),
		slog.String("http", call.HTTPVersion),
		slog.String("code", call.Code),
		slog.Duration("duration", call.Duration),
		slog.Int64("bytes_in", call.BytesIn),
		slog.Int64("bytes_out", call.BytesOut),
	)
}
