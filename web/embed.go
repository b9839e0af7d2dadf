// Package web serves the Parley browser app: the build output in dist/,
// embedded into the binary so that parleyd shows the app without Node.
// The sources are in src/; `npm run build` (see README.md) writes dist/,
// which is committed and checked against a fresh build in CI.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// Cache policies: assets carry a content hash in their name and never
// change; everything else (index.html) is revalidated on every load, so a
// new build is picked up at once.
const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
)

// contentSecurityPolicy allows only this origin's script files (no inline
// script, no eval), styles and API; images also from blob: (attachments,
// only of inert raster types: src/attachment.ts) and data: (the empty
// favicon). No plugins, frames, workers, <base> or form posts elsewhere;
// no page may frame the app; and Trusted Types with no policy, so no
// string ever reaches an HTML or script sink (the app builds the DOM with
// createElement and textContent only).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' blob: data:; connect-src 'self'; font-src 'self'; media-src 'none'; " +
	"object-src 'none'; frame-src 'none'; worker-src 'none'; base-uri 'none'; form-action 'self'; " +
	"frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'"

// docsContentSecurityPolicy is the API reference's (/docs): Swagger UI
// sets inline styles and renders the document's Markdown through HTML
// sinks, so it gets no Trusted Types and inline styles, and is otherwise
// as closed as the app's. The page shows only the document parleyd serves
// (text from our protos), never user content.
const docsContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; font-src 'self'; media-src 'none'; " +
	"object-src 'none'; frame-src 'none'; worker-src 'none'; base-uri 'none'; form-action 'self'; " +
	"frame-ancestors 'none'"

// page is an HTML page of the build, served at its own paths with its own
// policy; the files themselves are never served by name.
type page struct {
	file string
	csp  string
}

type file struct {
	data []byte
	etag string
}

// Handler serves the app: files of the build with cache headers, the API
// reference (docs.html) at /docs, and index.html for any other GET or HEAD
// of a path that looks like a page (so reloading a deep link works). Paths that look like an API call
// (a first segment with a dot, as in /parley.v1.RoomService/ListRooms) or
// a file (a last segment with an extension) get 404, never the page.
// It is meant to be mounted behind the API routes (server.WithWebApp),
// which therefore always win.
func Handler() http.Handler {
	files := map[string]file{}
	err := fs.WalkDir(dist, "dist", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := dist.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		files[strings.TrimPrefix(p, "dist")] = file{data: data, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
		return nil
	})
	if err != nil {
		panic("web: read embedded build: " + err.Error()) // cannot happen: the files are in the binary
	}
	for _, name := range []string{"/index.html", "/docs.html"} {
		if _, ok := files[name]; !ok {
			panic("web: the embedded build has no " + name + "; run `npm run build` in web/")
		}
	}
	app := page{"/index.html", contentSecurityPolicy}
	pages := map[string]page{"/docs": {"/docs.html", docsContentSecurityPolicy}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := path.Clean("/" + r.URL.Path)
		if looksLikeAPI(p) {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if f, ok := files[p]; ok && path.Ext(p) != ".html" {
			cache := cacheRevalidate
			if strings.HasPrefix(p, "/assets/") {
				cache = cacheImmutable
			}
			serve(w, r, p, f, cache)
			return
		}
		if path.Ext(p) != "" && p != "/index.html" {
			http.NotFound(w, r)
			return
		}
		pg, ok := pages[p]
		if !ok {
			pg = app
		}
		w.Header().Set("Content-Security-Policy", pg.csp)
		w.Header().Set("Referrer-Policy", "no-referrer")
		serve(w, r, pg.file, files[pg.file], cacheRevalidate)
	})
}

func serve(w http.ResponseWriter, r *http.Request, name string, f file, cache string) {
	w.Header().Set("Cache-Control", cache)
	w.Header().Set("ETag", f.etag)
	// ServeContent sets the type from the extension, answers HEAD, ranges
	// and If-None-Match (with the ETag above) for us.
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.data))
}

// looksLikeAPI tells whether p is shaped like an RPC path, /pkg.Service/Method.
func looksLikeAPI(p string) bool {
	first, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	return strings.Contains(first, ".")
}
