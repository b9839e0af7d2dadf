package parley_test

import (
	"strings"
	"testing"

	"github.com/parley-chat/parley"
)

// TestValidateUploadMetaName checks which file names are refused: paths,
// invalid UTF-8, control characters and line separators (a name is shown
// in headers, logs and terminals) and bidirectional formatting characters
// (they make "invoice\u202Efdp.exe" display as "invoiceexe.pdf").
func TestValidateUploadMetaName(t *testing.T) {
	t.Parallel()
	const (
		ok      = ""
		path    = "must be a file name, not a path"
		utf8    = "must be valid UTF-8"
		control = "must not contain control characters (such as NUL, CR or LF) or line separators"
		bidi    = "must not contain bidirectional formatting characters (U+202A to U+202E, U+2066 to U+2069, U+200E, U+200F, U+061C)"
	)
	for _, tc := range []struct {
		name string
		file string
		want string
	}{
		{"OK", "report 2026.pdf", ok},
		{"OKUnicode", "Grüße – 日本語 🙂.txt", ok},
		{"OKArabic", "ملف.txt", ok},
		{"OKZeroWidthJoiner", "👩\u200d💻.png", ok},
		{"ErrRequired", "", "is required"},
		{"ErrTooLong", strings.Repeat("a", 256), "must be at most 255 bytes"},
		{"ErrSlash", "a/b", path},
		{"ErrDot", ".", path},
		{"ErrDotDot", "..", path},
		{"ErrInvalidUTF8", "a\xffb", utf8},
		{"ErrNUL", "a\x00b", control},
		{"ErrCR", "a\rb", control},
		{"ErrLF", "a\nb", control},
		{"ErrCRLF", "a.txt\r\nX-Evil: 1", control},
		{"ErrTab", "a\tb", control},
		{"ErrEscape", "\x1b[31mred", control},
		{"ErrDEL", "a\x7fb", control},
		{"ErrC1", "a\u0085b", control},
		{"ErrLineSeparator", "a\u2028b", control},
		{"ErrParagraphSeparator", "a\u2029b", control},
		{"ErrRLO", "invoice\u202Efdp.exe", bidi},
		{"ErrLRE", "a\u202Ab", bidi},
		{"ErrRLE", "a\u202Bb", bidi},
		{"ErrPDF", "a\u202Cb", bidi},
		{"ErrLRO", "a\u202Db", bidi},
		{"ErrLRI", "a\u2066b", bidi},
		{"ErrRLI", "a\u2067b", bidi},
		{"ErrFSI", "a\u2068b", bidi},
		{"ErrPDI", "a\u2069b", bidi},
		{"ErrLRM", "a\u200Eb", bidi},
		{"ErrRLM", "a\u200Fb", bidi},
		{"ErrALM", "a\u061Cb", bidi},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			meta := parley.UploadMeta{Name: tc.file, Size: 1, SHA256: strings.Repeat("0", 64)}
			v := parley.ValidateUploadMeta("metadata.", meta)
			got := ""
			if len(v) > 0 {
				if len(v) != 1 || v[0].Field != "metadata.name" {
					t.Fatalf("violations = %+v, want one on metadata.name", v)
				}
				got = v[0].Description
			}
			if got != tc.want {
				t.Errorf("name %q: %q, want %q", tc.file, got, tc.want)
			}
		})
	}
}

// TestValidateUploadMetaContentType refuses control characters in the
// content type, which goes into a response header.
func TestValidateUploadMetaContentType(t *testing.T) {
	t.Parallel()
	for _, ct := range []string{"text/plain\r\nX-Evil: 1", "text/plain\x00", "text/\x7fplain"} {
		v := parley.ValidateUploadMeta("", parley.UploadMeta{Name: "a", ContentType: ct, Size: 1, SHA256: strings.Repeat("0", 64)})
		if len(v) != 1 || v[0].Field != "content_type" {
			t.Errorf("content type %q: %+v, want one violation on content_type", ct, v)
		}
	}
	if v := parley.ValidateUploadMeta("", parley.UploadMeta{Name: "a", ContentType: "text/plain; charset=utf-8", Size: 1, SHA256: strings.Repeat("0", 64)}); len(v) != 0 {
		t.Errorf("a plain content type: %+v", v)
	}
}
