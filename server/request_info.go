package server

import "context"

// requestInfo is what middleware learns about a request for the layers
// inside it: the client address (withClientIP) and, when calls are
// observed or come as REST, the call's record (observeCalls, recordREST,
// the interceptor). It is one value in the context, so that a request is
// copied (http.Request.WithContext) once for all of them.
type requestInfo struct {
	clientIP string
	call     callRecord
}

type requestInfoKey struct{}

// requestInfoFrom returns the request's info, nil outside withClientIP
// and observeCalls.
func requestInfoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return info
}
