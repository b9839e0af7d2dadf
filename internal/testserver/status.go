package testserver

import (
	"encoding/binary"
	"net/http"
	"strings"
)

// GRPCStatus returns the grpc-status and grpc-message (still
// percent-encoded) of a gRPC or gRPC-Web response as they came over the
// wire: from its trailers, else its headers (a trailers-only response),
// else the trailer frame in body, as gRPC-Web sends them. truncated
// reports a frame of body cut short, which ends the search. Status and
// message are empty when the response carries none.
func GRPCStatus(res *http.Response, body []byte) (status, message string, truncated bool) {
	status, message = res.Trailer.Get("Grpc-Status"), res.Trailer.Get("Grpc-Message")
	if status == "" {
		status, message = res.Header.Get("Grpc-Status"), res.Header.Get("Grpc-Message")
	}
	if status != "" {
		return status, message, false
	}
	for len(body) >= 5 {
		n := int(binary.BigEndian.Uint32(body[1:5]))
		if len(body) < 5+n {
			return status, message, true
		}
		if body[0]&0x80 != 0 {
			for line := range strings.SplitSeq(string(body[5:5+n]), "\r\n") {
				name, value, _ := strings.Cut(line, ":")
				switch strings.ToLower(name) {
				case "grpc-status":
					status = strings.TrimSpace(value)
				case "grpc-message":
					message = strings.TrimSpace(value)
				}
			}
		}
		body = body[5+n:]
	}
	return status, message, false
}
