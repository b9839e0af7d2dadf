package server_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

// FuzzGRPCWebText fuzzes gRPC-Web text bodies through the production
// handler, as FuzzGRPCWeb does for binary: the fuzzer mutates the base64
// text itself (so bad characters, padding, line breaks and truncation are
// fuzzed with the frames inside). The answer must be gRPC-Web text: whole
// base64 groups that decode to well-formed frames, and a valid status.
func FuzzGRPCWebText(f *testing.F) {
	for i, msg := range fuzzSeeds() {
		b, err := proto.Marshal(msg)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), false, []byte(base64.StdEncoding.EncodeToString(envelope(0, b))))
	}
	hello := envelope(0, []byte("\x0a\x04fuzz"))
	f.Add(uint8(0), false, []byte(base64.StdEncoding.EncodeToString(hello[:3])+base64.StdEncoding.EncodeToString(hello[3:])+"\r\n"))
	f.Add(uint8(0), true, []byte(base64.StdEncoding.EncodeToString(envelope(1, gzipped([]byte("\x0a\x04fuzz"))))))
	f.Add(uint8(0), false, []byte("AEAAAAA="))
	ft := newFuzzTarget(f)
	f.Fuzz(func(t *testing.T, proc uint8, compress bool, body []byte) {
		header := http.Header{"X-Grpc-Web": {"1"}}
		if compress {
			header.Set("Grpc-Encoding", "gzip")
		}
		rec := ft.call(t, fuzzProcedures[pick(proc, len(fuzzProcedures))], "application/grpc-web-text", header, body)
		if ct := rec.Header().Get("Content-Type"); ct != "application/grpc-web-text" {
			t.Fatalf("HTTP %d, Content-Type %q", rec.Code, ct)
		}
		text := rec.Body.String()
		if len(text)%4 != 0 || strings.ContainsAny(text, "\r\n") {
			t.Fatalf("response is not whole base64 groups: %q", text)
		}
		var decoded []byte
		for ; len(text) > 0; text = text[4:] {
			group, err := base64.StdEncoding.DecodeString(text[:4])
			if err != nil {
				t.Fatalf("response is not base64: %v: %q", err, rec.Body.String())
			}
			decoded = append(decoded, group...)
		}
		rec.Body = bytes.NewBuffer(decoded)
		checkGRPCStatus(t, rec, true)
	})
}
