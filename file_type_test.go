package parley_test

import (
	"testing"

	"github.com/parley-chat/parley"
)

func TestServedContentType(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ declared, want string }{
		{"image/png", "image/png"},
		{"IMAGE/JPEG", "image/jpeg"},
		{"image/gif", "image/gif"},
		{"image/webp", "image/webp"},
		{"image/avif", "image/avif"},
		{"image/png; name=x.svg", "image/png"},
		{"application/pdf", "application/pdf"},
		{"text/plain", "text/plain"},
		{"text/plain; charset=utf-8", "text/plain; charset=utf-8"},
		{"Text/Plain; Charset=UTF-8", "text/plain; charset=utf-8"},
		{"text/plain; charset=utf-7", "text/plain"},
		{"", parley.OctetStream},
		{"text/html", parley.OctetStream},
		{"TEXT/HTML; charset=utf-8", parley.OctetStream},
		{"image/svg+xml", parley.OctetStream},
		{"application/xhtml+xml", parley.OctetStream},
		{"text/xml", parley.OctetStream},
		{"application/xml", parley.OctetStream},
		{"text/javascript", parley.OctetStream},
		{"application/javascript", parley.OctetStream},
		{"text/css", parley.OctetStream},
		{"multipart/x-mixed-replace; boundary=a", parley.OctetStream},
		{"image/png, text/html", parley.OctetStream},
		{"image/png text/html", parley.OctetStream},
		{"image/", parley.OctetStream},
		{"image/x-icon", parley.OctetStream},
	} {
		if got := parley.ServedContentType(tc.declared); got != tc.want {
			t.Errorf("ServedContentType(%q) = %q, want %q", tc.declared, got, tc.want)
		}
	}
	f := parley.File{ContentType: "text/html"}
	if got := f.ServedContentType(); got != parley.OctetStream {
		t.Errorf("File{text/html}.ServedContentType() = %q", got)
	}
}
