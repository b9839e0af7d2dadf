package parley

import (
	"mime"
	"strings"
)

// OctetStream is the content type of a file whose declared type is not on
// the inert list: browsers save such a file, they never render it.
const OctetStream = "application/octet-stream"

// inertTypes are the media types a browser renders without running any of
// the file's content as script: raster images (not SVG, which is a
// document with scripts), PDF (rendered by a sandboxed viewer, outside the
// page's origin) and plain text.
var inertTypes = map[string]bool{
	"image/png":       true,
	"image/jpeg":      true,
	"image/gif":       true,
	"image/webp":      true,
	"image/avif":      true,
	"application/pdf": true,
	"text/plain":      true,
}

// plainTextCharsets are the charsets kept on a text/plain type. Others
// (UTF-7 once made text run as HTML) are dropped, leaving the browser's
// own guess.
var plainTextCharsets = map[string]bool{"utf-8": true, "us-ascii": true, "iso-8859-1": true}

// ServedContentType is the content type every way out reports for a file
// whose uploader declared the type declared: the declared media type,
// lowercased and without parameters, when it is on a short list of inert
// types (PNG, JPEG, GIF, WebP and AVIF images, PDF, plain text with a
// common charset), and OctetStream otherwise. HTML, SVG, XML, JavaScript
// and anything unknown or malformed are thus never handed to a browser
// as something to render: a file opened in the app's origin must not run
// the uploader's script there.
func ServedContentType(declared string) string {
	mediaType, params, err := mime.ParseMediaType(declared)
	if err != nil || !inertTypes[mediaType] {
		return OctetStream
	}
	if mediaType == "text/plain" {
		if cs := strings.ToLower(params["charset"]); plainTextCharsets[cs] {
			return mediaType + "; charset=" + cs
		}
	}
	return mediaType
}

// ServedContentType is the type reported for f (see the function of the
// same name); f.ContentType keeps what the uploader declared.
func (f File) ServedContentType() string { return ServedContentType(f.ContentType) }
