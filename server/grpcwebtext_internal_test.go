package server

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"
)

// chunkReader returns src in reads whose sizes come from sizes (0 to 63
// bytes each, cycling), so a body arrives split anywhere, with empty reads
// (never two in a row).
type chunkReader struct {
	src   []byte
	sizes []byte
	i     int
	empty bool // the last read returned nothing
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.src) == 0 {
		return 0, io.EOF
	}
	n := len(r.src)
	if len(r.sizes) > 0 {
		n = min(n, int(r.sizes[r.i%len(r.sizes)]%64))
		r.i++
	}
	if n == 0 && r.empty {
		n = 1
	}
	n = copy(p, r.src[:n])
	r.empty = n == 0
	r.src = r.src[n:]
	return n, nil
}

func (r *chunkReader) Close() error { return nil }

// referenceDecode is gRPC-Web text decoding written the slow, obvious way:
// drop line breaks (failing on three in a row), then decode each
// 4-character group on its own. It returns what decoded before the first
// bad group, and whether the whole input was good.
func referenceDecode(in []byte) ([]byte, bool) {
	var chars []byte
	breaks := 0
	for _, c := range in {
		if c == '\r' || c == '\n' {
			if breaks++; breaks > 2 {
				return decodeGroups(chars), false
			}
			continue
		}
		breaks = 0
		chars = append(chars, c)
	}
	out := decodeGroups(chars)
	ok := len(chars)%4 == 0 && len(out) == decodedLen(chars)
	return out, ok
}

func decodeGroups(chars []byte) []byte {
	var out []byte
	for len(chars) >= 4 {
		g, err := base64.StdEncoding.DecodeString(string(chars[:4]))
		if err != nil {
			break
		}
		out, chars = append(out, g...), chars[4:]
	}
	return out
}

// decodedLen is how many bytes whole, valid groups of chars decode to.
func decodedLen(chars []byte) int {
	n := 0
	for ; len(chars) >= 4; chars = chars[4:] {
		g, err := base64.StdEncoding.DecodeString(string(chars[:4]))
		if err != nil {
			return -1
		}
		n += len(g)
	}
	return n
}

// checkDecoder reads body through base64Body, split by sizes, and compares
// with referenceDecode.
func checkDecoder(t *testing.T, body, sizes []byte) {
	t.Helper()
	want, ok := referenceDecode(body)
	got, err := io.ReadAll(&base64Body{body: &chunkReader{src: body, sizes: sizes}})
	switch {
	case ok && err != nil:
		t.Fatalf("%q: error %v, want %q", body, err, want)
	case ok && !bytes.Equal(got, want):
		t.Fatalf("%q: decoded %q, want %q", body, got, want)
	case !ok && err == nil:
		t.Fatalf("%q: decoded %q, want an error", body, got)
	case !ok && connect.CodeOf(err) != connect.CodeInvalidArgument:
		t.Fatalf("%q: error %v, want invalid_argument", body, err)
	case !ok && !bytes.HasPrefix(want, got):
		// Bytes returned before the error are the good groups before it.
		t.Fatalf("%q: returned %q before the error, not a prefix of %q", body, got, want)
	}
}

// checkEncoder writes data to a base64ResponseWriter in writes split by
// sizes (the low six bits), flushing after a write when bit 6 is set, and checks that every
// flush leaves whole padded base64 and that the body decodes to data.
func checkEncoder(t *testing.T, data, sizes []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Type", grpcWebProtoContentType)
	w := &base64ResponseWriter{w: rec, flusher: rec, contentType: grpcWebTextContentType}
	src := &chunkReader{src: data, sizes: sizes}
	buf := make([]byte, 64)
	for i := 0; ; i++ {
		n, err := src.Read(buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if _, err := w.Write(buf[:n]); err != nil {
			t.Fatal(err)
		}
		if len(sizes) > 0 && sizes[i%len(sizes)]&64 != 0 {
			w.Flush()
			if rec.Body.Len()%4 != 0 {
				t.Fatalf("after a flush the body is %q: not whole base64 groups", rec.Body.String())
			}
		}
	}
	w.finish()
	got, ok := referenceDecode(rec.Body.Bytes())
	if !ok || !bytes.Equal(got, data) {
		t.Fatalf("wrote %q, body %q decodes to %q (ok %v)", data, rec.Body.String(), got, ok)
	}
	if ct := rec.Header().Get("Content-Type"); ct != grpcWebTextContentType {
		t.Fatalf("Content-Type %q", ct)
	}
}

func TestBase64Body(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		body string
	}{
		{"OKOneRun", "AAAAAAQKAmhp"},
		{"OKPaddedRuns", "AA==AAAAAA==BAoCaGk="},
		{"OKLineBreaks", "AAAA\r\nAAQK\nAmhp\r\n"},
		{"OKEmpty", ""},
		{"ErrNotBase64", "AAAA!!!!"},
		{"ErrPaddingInsideGroup", "AA=A"},
		{"ErrPaddingOnly", "===="},
		{"ErrEndsInsideGroup", "AAAAAAQ"},
		{"ErrThreeLineBreaks", "AAAA\r\n\nAAAA"},
		{"ErrURLAlphabet", "AA-_"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, sizes := range [][]byte{nil, {1}, {3, 0, 5}, {4}, {63}} {
				checkDecoder(t, []byte(tc.body), sizes)
			}
		})
	}
}

func TestBase64ResponseWriter(t *testing.T) {
	t.Parallel()
	t.Run("PaddedRunPerFlush", func(t *testing.T) {
		t.Parallel()
		rec := httptest.NewRecorder()
		rec.Header().Set("Content-Type", grpcWebProtoContentType)
		w := &base64ResponseWriter{w: rec, flusher: rec, contentType: grpcWebTextProtoContentType}
		_, _ = w.Write([]byte{0})
		w.Flush()
		_, _ = w.Write([]byte{1, 2})
		_, _ = w.Write([]byte{3, 4})
		w.Flush()
		_, _ = w.Write([]byte{5, 6, 7})
		w.finish()
		if got, want := rec.Body.String(), "AA==AQIDBA==BQYH"; got != want {
			t.Errorf("body %q, want %q", got, want)
		}
		if got := rec.Header().Get("Content-Type"); got != grpcWebTextProtoContentType {
			t.Errorf("Content-Type %q", got)
		}
	})
	t.Run("HeldFlushesPadOnce", func(t *testing.T) {
		// flushHold sits inside the translation: the flushes it holds back
		// never reach the encoder, so a held batch is one run.
		t.Parallel()
		rec := httptest.NewRecorder()
		rec.Header().Set("Content-Type", grpcWebProtoContentType)
		w := &base64ResponseWriter{w: rec, flusher: rec, contentType: grpcWebTextContentType}
		fh := &flushHold{ResponseWriter: w, flusher: w}
		fh.hold()
		for _, b := range []byte{1, 2, 3, 4} {
			_, _ = fh.Write([]byte{b})
			fh.Flush()
		}
		if rec.Body.String() != "AQID" || rec.Flushed {
			t.Errorf("while held: body %q, flushed %v", rec.Body.String(), rec.Flushed)
		}
		fh.release()
		if got, want := rec.Body.String(), "AQIDBA=="; got != want || !rec.Flushed {
			t.Errorf("after release: body %q (want %q), flushed %v", got, want, rec.Flushed)
		}
	})
	t.Run("NotGRPCWebPassesThrough", func(t *testing.T) {
		t.Parallel()
		rec := httptest.NewRecorder()
		w := &base64ResponseWriter{w: rec, flusher: rec, contentType: grpcWebTextContentType}
		http.NotFound(w, nil)
		w.finish()
		if got := rec.Body.String(); got != "404 page not found\n" {
			t.Errorf("body %q", got)
		}
	})
	t.Run("TrailersOnly", func(t *testing.T) {
		// connect-go answers some errors in headers alone and never calls
		// WriteHeader: the content type is still the text one.
		t.Parallel()
		rec := httptest.NewRecorder()
		w := &base64ResponseWriter{w: rec, flusher: rec, contentType: grpcWebTextContentType}
		w.Header().Set("Content-Type", grpcWebProtoContentType)
		w.Header().Set("Grpc-Status", "16")
		w.finish()
		if got := rec.Header().Get("Content-Type"); got != grpcWebTextContentType || rec.Body.Len() != 0 {
			t.Errorf("Content-Type %q, body %q", got, rec.Body.String())
		}
	})
	t.Run("Sizes", func(t *testing.T) {
		t.Parallel()
		big := bytes.Repeat([]byte("0123456789abcdefghij"), 2000) // past encodeChunk
		for _, sizes := range [][]byte{nil, {1}, {1 | 64}, {2, 3 | 64}, {4, 1, 1}, {5, 0, 7 | 64, 62}} {
			checkEncoder(t, big[:4099], sizes)
		}
		rec := httptest.NewRecorder()
		rec.Header().Set("Content-Type", grpcWebProtoContentType)
		w := &base64ResponseWriter{w: rec, flusher: rec, contentType: grpcWebTextContentType}
		_, _ = w.Write(big)
		w.finish()
		if got, err := base64.StdEncoding.DecodeString(rec.Body.String()); err != nil || !bytes.Equal(got, big) {
			t.Errorf("one large write: %v", err)
		}
	})
}

// FuzzGRPCWebTextBody fuzzes the text-mode decoder against
// referenceDecode, with the body split into reads anywhere, and the encoder
// with writes and flushes anywhere: no panic, the same bytes as the
// reference, invalid_argument for anything malformed.
func FuzzGRPCWebTextBody(f *testing.F) {
	f.Add([]byte("AAAAAAQKAmhp"), []byte{3, 1, 4})
	f.Add([]byte("AA==AAAAAA==BAoCaGk="), []byte{1})
	f.Add([]byte("AAAA\r\nAAQK\nAmhp\r\n"), []byte{2, 7})
	f.Add([]byte("AA=A"), []byte{})
	f.Add([]byte("AAAA\r\n\n"), []byte{5})
	f.Add([]byte("gAAAABBncnBjLXN0YXR1czogMA0K"), []byte{9, 0, 2})
	f.Add([]byte("abcdefgh"), []byte{4, 1, 1 | 64}) // two short writes in a row, then a flush
	f.Fuzz(func(t *testing.T, body, sizes []byte) {
		checkDecoder(t, body, sizes)
		checkEncoder(t, body, sizes)
	})
}

// BenchmarkGRPCWebTextPassThrough is what translateGRPCWebText adds to a
// request it does not translate: the handler behind it does nothing, so
// the difference from "direct" is the check alone.
func BenchmarkGRPCWebTextPassThrough(b *testing.B) {
	noop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	wrapped := translateGRPCWebText(noop)
	w := httptest.NewRecorder()
	for _, tc := range []struct {
		name, contentType string
		h                 http.Handler
	}{
		{"direct", "application/proto", noop},
		{"connect", "application/proto", wrapped},
		{"grpc", "application/grpc", wrapped},
		{"grpcweb", "application/grpc-web+proto", wrapped},
		{"connect-json-charset", "application/json; charset=utf-8", wrapped},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodPost, "/helloworld.Greeter/SayHello", http.NoBody)
			r.Header.Set("Content-Type", tc.contentType)
			b.ReportAllocs()
			for b.Loop() {
				tc.h.ServeHTTP(w, r)
			}
		})
	}
}
