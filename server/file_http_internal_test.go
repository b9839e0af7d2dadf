package server

import (
	"mime"
	"net/http"
	"testing"

	"github.com/parley-chat/parley"
)

func TestSetFileHeaders(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	setFileHeaders(h, parley.File{Name: "evil.html", ContentType: "text/html"})
	for k, want := range map[string]string{
		"Content-Type":            "application/octet-stream",
		"X-Content-Type-Options":  "nosniff",
		"Content-Disposition":     `attachment; filename="evil.html"; filename*=UTF-8''evil.html`,
		"Content-Security-Policy": "sandbox; default-src 'none'",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestAttachmentDisposition(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, want, parsed string }{
		{"report.pdf", `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`, "report.pdf"},
		{"my notes.txt", `attachment; filename="my notes.txt"; filename*=UTF-8''my%20notes.txt`, "my notes.txt"},
		{"Grüße €.txt", `attachment; filename="Gr__e _.txt"; filename*=UTF-8''Gr%C3%BC%C3%9Fe%20%E2%82%AC.txt`, "Grüße €.txt"},
		{`a"b\c%d.txt`, `attachment; filename="a_b_c_d.txt"; filename*=UTF-8''a%22b%5Cc%25d.txt`, `a"b\c%d.txt`},
		{"x\r\nSet-Cookie: a=b", `attachment; filename="x__Set-Cookie: a=b"; filename*=UTF-8''x__Set-Cookie%3A%20a%3Db`, "x__Set-Cookie: a=b"},
		{"日本.png", `attachment; filename="__.png"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.png`, "日本.png"},
		{"...", `attachment; filename="download"; filename*=UTF-8''...`, "..."},
	} {
		got := attachmentDisposition(tc.name)
		if got != tc.want {
			t.Errorf("attachmentDisposition(%q) = %s, want %s", tc.name, got, tc.want)
		}
		// Go's parser, like browsers, prefers filename* and decodes it.
		_, params, err := mime.ParseMediaType(got)
		if err != nil || params["filename"] != tc.parsed {
			t.Errorf("ParseMediaType(%s) = %q, %v; want filename %q", got, params["filename"], err, tc.parsed)
		}
	}
}
