package server

import (
	"errors"
	"net/http"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"
)

// The errors of the HTTP routes that vanguard does not write itself (an
// unknown /v1/ path, a wrong verb, an oversized body, the events route) are
// written as vanguard writes those of the calls it transcodes: a
// google.rpc.Status JSON body with the HTTP status of its code.

// writeRESTError writes a google.rpc.Status JSON body with an HTTP status
// of its own.
func writeRESTError(w http.ResponseWriter, status int, code connect.Code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(restStatusJSON(connect.NewError(code, errors.New(message)))) //nolint:gosec // G705: a JSON body, served as application/json
}

// writeRESTStatus writes err, a Connect error, as vanguard writes the errors
// of the calls it transcodes: the HTTP status of its code, its metadata as
// headers (Retry-After) and its google.rpc.Status as the JSON body.
func writeRESTStatus(w http.ResponseWriter, err error) {
	cerr := asConnectError(err)
	for k, v := range cerr.Meta() {
		w.Header()[k] = v
	}
	status := http.StatusInternalServerError
	if c := int(cerr.Code()); c < len(restHTTPStatus) {
		status = restHTTPStatus[c]
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(restStatusJSON(cerr))
}

// restHTTPStatus is the HTTP status of each code over REST, indexed by
// code: vanguard's (and grpc-gateway's) mapping.
var restHTTPStatus = [...]int{
	http.StatusOK, 499, http.StatusInternalServerError, http.StatusBadRequest,
	http.StatusGatewayTimeout, http.StatusNotFound, http.StatusConflict, http.StatusForbidden,
	http.StatusTooManyRequests, http.StatusBadRequest, http.StatusConflict, http.StatusBadRequest,
	http.StatusNotImplemented, http.StatusInternalServerError, http.StatusServiceUnavailable,
	http.StatusInternalServerError, http.StatusUnauthorized,
}

// restStatusJSON is err, a Connect error, as a google.rpc.Status in JSON,
// with its details.
func restStatusJSON(err error) []byte {
	cerr := asConnectError(err)
	st := &status.Status{Code: int32(cerr.Code()), Message: cerr.Message()} //nolint:gosec // codes are 0..16
	for _, d := range cerr.Details() {
		st.Details = append(st.Details, &anypb.Any{TypeUrl: "type.googleapis.com/" + d.Type(), Value: d.Bytes()})
	}
	b, merr := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(st)
	if merr != nil {
		return []byte(`{"code":13,"message":"internal error","details":[]}`)
	}
	return b
}

func asConnectError(err error) *connect.Error {
	if cerr := new(connect.Error); errors.As(err, &cerr) {
		return cerr
	}
	return connect.NewError(connect.CodeInternal, errors.New("internal error"))
}
