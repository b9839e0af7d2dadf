package server

import (
	"net/http"
	"strings"

	"github.com/parley-chat/parley"
)

// fileSandbox is the Content-Security-Policy of a response carrying a
// file's bytes: should a browser render it anyway, as a document of a
// unique opaque origin that may load nothing and run nothing.
const fileSandbox = "sandbox; default-src 'none'"

// setFileHeaders sets the headers of an HTTP response that carries a
// file's bytes (OWASP File Upload cheat sheet): the served content type,
// never the declared one (parley.ServedContentType), no sniffing, saved as
// an attachment under a sanitised name, sandboxed, and cached by nobody
// but the member's own browser.
//
// Today files leave only through the Download stream, inside RPC frames;
// every HTTP route that serves file bytes (a REST download, a thumbnail)
// must call this before writing them.
func setFileHeaders(h http.Header, f parley.File) {
	h.Set("Content-Type", f.ServedContentType())
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Disposition", attachmentDisposition(f.Name))
	h.Set("Content-Security-Policy", fileSandbox)
	h.Set("Cache-Control", "private, no-cache")
}

// attachmentDisposition is `attachment` with the file name twice
// (RFC 6266 section 4.3): an ASCII fallback in filename= for old clients,
// and the exact name, UTF-8 and percent-encoded (RFC 5987), in filename*=,
// which every current browser prefers. Control characters never reach the
// header, so a name cannot end it or add another.
func attachmentDisposition(name string) string {
	var ascii, exact strings.Builder
	for _, r := range name {
		switch {
		case r < 0x20 || r == 0x7f:
			r = '_'
		case r == '"' || r == '\\' || r == '/' || r == '%':
			// Quoting and escaping differ between parsers, and some
			// percent-decode filename=: kept out of the fallback.
			ascii.WriteByte('_')
			writePercentEncoded(&exact, r)
			continue
		case r > 0x7e:
			ascii.WriteByte('_')
			writePercentEncoded(&exact, r)
			continue
		}
		ascii.WriteRune(r)
		writePercentEncoded(&exact, r)
	}
	fallback := strings.Trim(ascii.String(), " .")
	if fallback == "" {
		fallback = "download"
	}
	return `attachment; filename="` + fallback + `"; filename*=UTF-8''` + exact.String()
}

// writePercentEncoded writes r as RFC 5987 attr-chars, percent-encoding
// every byte of its UTF-8 form that is not one.
func writePercentEncoded(b *strings.Builder, r rune) {
	const hex = "0123456789ABCDEF"
	s := string(r)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAttrChar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
}

// isAttrChar reports whether c may stand unencoded in an RFC 5987 value.
func isAttrChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}
