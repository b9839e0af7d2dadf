package web_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/server"
	"github.com/parley-chat/parley/web"
)

// TestHandler checks what the app answers, mounted as parleyd mounts it:
// behind the API routes.
func TestHandler(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t, server.WithWebApp(web.Handler()))
	get := func(t *testing.T, method, path string, header ...string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res, string(body)
	}

	res, index := get(t, http.MethodGet, "/")
	asset := regexp.MustCompile(`/assets/main-[A-Z0-9]+\.js`).FindString(index)
	if res.StatusCode != http.StatusOK || asset == "" {
		t.Fatalf("GET /: %s, no script in\n%s", res.Status, index)
	}

	tests := []struct {
		name, method, path string
		status             int
		cache, bodyHas     string
	}{
		{"IndexRevalidated", "GET", "/", 200, "no-cache", `<div id="app">`},
		{"AssetImmutable", "GET", asset, 200, "public, max-age=31536000, immutable", ""},
		{"HeadAsset", "HEAD", asset, 200, "public, max-age=31536000, immutable", ""},
		{"DeepLinkFallsBack", "GET", "/rooms/r_123", 200, "no-cache", `<div id="app">`},
		{"MissingAssetNotFound", "GET", "/assets/main-GONE.js", 404, "", ""},
		{"UnknownRPCNotFound", "GET", "/parley.v1.Nope/Nothing", 404, "", ""},
		{"PostToPageNotAllowed", "POST", "/rooms", 405, "", ""},
		{"DocsPage", "GET", "/docs", 200, "no-cache", `<div id="api">`},
		{"PagesNotByName", "GET", "/docs.html", 404, "", ""},
		{"APINotShadowed", "GET", "/helloworld.Greeter/SayHello?encoding=json&message=%7B%7D", 200, "", `"message":"Hello `},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, body := get(t, tc.method, tc.path)
			if res.StatusCode != tc.status {
				t.Fatalf("%s %s: %s", tc.method, tc.path, res.Status)
			}
			if got := res.Header.Get("Cache-Control"); tc.cache != "" && got != tc.cache {
				t.Errorf("Cache-Control %q, want %q", got, tc.cache)
			}
			if !strings.Contains(body, tc.bodyHas) {
				t.Errorf("body lacks %q:\n%.300s", tc.bodyHas, body)
			}
		})
	}

	t.Run("EachPageItsPolicy", func(t *testing.T) {
		app, _ := get(t, "GET", "/rooms/r_1")
		docs, _ := get(t, "GET", "/docs")
		if csp := app.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "trusted-types 'none'") {
			t.Errorf("app CSP %q lacks Trusted Types", csp)
		}
		if csp := docs.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self';") || strings.Contains(csp, "trusted-types") {
			t.Errorf("docs CSP %q", csp)
		}
	})

	t.Run("ETagRevalidates", func(t *testing.T) {
		res, _ := get(t, "GET", "/")
		etag := res.Header.Get("ETag")
		if etag == "" {
			t.Fatal("no ETag on index.html")
		}
		res, _ = get(t, "GET", "/", "If-None-Match", etag)
		if res.StatusCode != http.StatusNotModified {
			t.Fatalf("If-None-Match: %s, want 304", res.Status)
		}
	})
}
