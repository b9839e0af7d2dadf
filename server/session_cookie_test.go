package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"connectrpc.com/connect"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/internal/testserver"
)

// cookieCall is one curl-shaped Connect call: method, content type and
// extra headers as a browser (or a forger) would send them.
type cookieCall struct {
	client      *http.Client
	base        string
	method      string // POST unless set
	procedure   string
	contentType string // application/json unless set
	body        string
	header      map[string]string
}

func (c cookieCall) do(t *testing.T) (*http.Response, map[string]any) {
	t.Helper()
	method, ct, body := c.method, c.contentType, c.body
	if method == "" {
		method = http.MethodPost
	}
	if ct == "" {
		ct = "application/json"
	}
	if body == "" && strings.Contains(ct, "json") {
		body = "{}"
	}
	u := c.base + c.procedure
	var rd io.Reader = strings.NewReader(body)
	if method == http.MethodGet {
		u += "?encoding=json&message=" + url.QueryEscape(body)
		rd = nil
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if method != http.MethodGet {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	res, raw := testserver.Do(t, c.client, req)
	var out map[string]any
	_ = json.NewDecoder(bytes.NewReader(raw)).Decode(&out)
	return res, out
}

func sessionCookieOf(t *testing.T, res *http.Response, name string) *http.Cookie {
	t.Helper()
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s cookie in %q", name, res.Header.Values("Set-Cookie"))
	return nil
}

// TestSessionCookie: the browser app's HttpOnly session cookie is set by
// SignUp and SignIn on request, accepted only on requests no other site can
// make, and cleared by SignOut; bearer tokens work as before and win.
func TestSessionCookie(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	plain := testserver.HTTP1Client()
	call := func(procedure string) cookieCall {
		return cookieCall{client: plain, base: srv.URL, procedure: procedure, header: map[string]string{}}
	}
	asks := map[string]string{"Parley-Session": "cookie", "Sec-Fetch-Site": "same-origin", "Origin": srv.URL}

	signUp := call(parleyv1connect.AuthServiceSignUpProcedure)
	signUp.body, signUp.header = `{"username":"cookie-ann","password":"correct horse battery"}`, asks
	res, body := signUp.do(t)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("SignUp: %s %v", res.Status, body)
	}
	if tok, _ := body["token"].(string); tok != "" {
		t.Errorf("SignUp asked for a cookie but the body carries the token %q", tok)
	}
	cookie := sessionCookieOf(t, res, "parley_session")
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" || cookie.Secure || cookie.MaxAge <= 0 || !strings.HasPrefix(cookie.Value, "pt_") {
		t.Errorf("SignUp cookie %q: want HttpOnly, SameSite=Strict, Path=/, Max-Age, not Secure over plain HTTP", res.Header.Get("Set-Cookie"))
	}
	send := "parley_session=" + cookie.Value

	getMe := func(mod func(*cookieCall)) int {
		t.Helper()
		c := call(parleyv1connect.AuthServiceGetMeProcedure)
		c.header["Cookie"] = send
		mod(&c)
		res, _ := c.do(t)
		return res.StatusCode
	}
	for _, tc := range []struct {
		name string
		mod  func(*cookieCall)
		want int
	}{
		{"OK", func(*cookieCall) {}, http.StatusOK},
		{"OKSameOrigin", func(c *cookieCall) { c.header["Sec-Fetch-Site"] = "same-origin" }, http.StatusOK},
		{"OKConnectProto", func(c *cookieCall) { c.contentType, c.body = "application/proto", "" }, http.StatusOK},
		{"OKCharset", func(c *cookieCall) { c.contentType = "application/json; charset=utf-8" }, http.StatusOK},
		{"ErrCrossSite", func(c *cookieCall) { c.header["Sec-Fetch-Site"] = "cross-site" }, http.StatusUnauthorized},
		{"ErrSameSite", func(c *cookieCall) { c.header["Sec-Fetch-Site"] = "same-site" }, http.StatusUnauthorized},
		{"ErrConnectGet", func(c *cookieCall) { c.method = http.MethodGet }, http.StatusUnauthorized},
		{"ErrSimpleTextPlain", func(c *cookieCall) { c.contentType = "text/plain" }, http.StatusUnsupportedMediaType},
		{"ErrSimpleForm", func(c *cookieCall) { c.contentType = "application/x-www-form-urlencoded" }, http.StatusUnsupportedMediaType},
		{"ErrSecureName", func(c *cookieCall) { c.header["Cookie"] = "__Host-" + send }, http.StatusUnauthorized},
	} {
		if got := getMe(tc.mod); got != tc.want {
			t.Errorf("GetMe %s: status %d, want %d", tc.name, got, tc.want)
		}
	}

	// gRPC-Web, as the browser app sends it, authenticates by cookie too.
	grpcWeb := parleyv1connect.NewAuthServiceClient(plain, srv.URL, connect.WithGRPCWeb(), connect.WithInterceptors(withHeader("Cookie", send)))
	if me, err := grpcWeb.GetMe(context.Background(), connect.NewRequest(&parleyv1.GetMeRequest{})); err != nil || me.Msg.GetUser().GetUsername() != "cookie-ann" {
		t.Errorf("GetMe over gRPC-Web with the cookie: %v, %v", me, err)
	}

	// A bearer token wins over the cookie.
	other := call(parleyv1connect.AuthServiceSignUpProcedure)
	other.body = `{"username":"bearer-bob","password":"correct horse battery"}`
	res, body = other.do(t)
	if res.StatusCode != http.StatusOK || len(res.Cookies()) != 0 {
		t.Fatalf("SignUp without asking for a cookie: %s, cookies %v", res.Status, res.Cookies())
	}
	me := call(parleyv1connect.AuthServiceGetMeProcedure)
	me.header["Cookie"], me.header["Authorization"] = send, "Bearer "+body["token"].(string)
	if _, got := me.do(t); got["user"].(map[string]any)["username"] != "bearer-bob" {
		t.Errorf("GetMe with a bearer token and a cookie answered %v", got)
	}

	// Asking for a cookie on a request that may not carry one is refused.
	forged := call(parleyv1connect.AuthServiceSignInProcedure)
	forged.body = `{"username":"cookie-ann","password":"correct horse battery"}`
	forged.header = map[string]string{"Parley-Session": "cookie", "Sec-Fetch-Site": "cross-site"}
	if res, body := forged.do(t); res.StatusCode != http.StatusBadRequest || len(res.Cookies()) != 0 || body["code"] != "failed_precondition" {
		t.Errorf("cross-site SignIn asking for a cookie: %s %v, cookies %v", res.Status, body, res.Cookies())
	}

	// SignIn sets a fresh cookie; SignOut clears it and ends the session.
	signIn := call(parleyv1connect.AuthServiceSignInProcedure)
	signIn.body, signIn.header = `{"username":"cookie-ann","password":"correct horse battery"}`, asks
	res, _ = signIn.do(t)
	second := sessionCookieOf(t, res, "parley_session")
	signOut := call(parleyv1connect.AuthServiceSignOutProcedure)
	signOut.header["Cookie"] = "parley_session=" + second.Value
	res, _ = signOut.do(t)
	if cleared := sessionCookieOf(t, res, "parley_session"); res.StatusCode != http.StatusOK || cleared.MaxAge >= 0 || cleared.Value != "" {
		t.Errorf("SignOut: %s, Set-Cookie %q; want the cookie deleted", res.Status, res.Header.Get("Set-Cookie"))
	}
	if res, _ := signOut.do(t); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("the signed-out cookie still works: %s", res.Status)
	}
	if got := getMe(func(*cookieCall) {}); got != http.StatusOK {
		t.Errorf("signing out one session ended another: %d", got)
	}
}

// TestSessionCookieTLS: over TLS the cookie is Secure and __Host- named,
// and a cookie without the prefix is not accepted there.
func TestSessionCookieTLS(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	c := cookieCall{client: srv.TLSClient(), base: srv.TLSURL, procedure: parleyv1connect.AuthServiceSignUpProcedure,
		body: `{"username":"tls-cat","password":"correct horse battery"}`, header: map[string]string{"Parley-Session": "cookie"}}
	res, body := c.do(t)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("SignUp: %s %v", res.Status, body)
	}
	cookie := sessionCookieOf(t, res, "__Host-parley_session")
	if !cookie.Secure || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" || cookie.Domain != "" {
		t.Errorf("Set-Cookie %q: want Secure, HttpOnly, SameSite=Strict, Path=/, no Domain", res.Header.Get("Set-Cookie"))
	}
	for name, want := range map[string]int{"__Host-parley_session": http.StatusOK, "parley_session": http.StatusUnauthorized} {
		me := cookieCall{client: srv.TLSClient(), base: srv.TLSURL, procedure: parleyv1connect.AuthServiceGetMeProcedure,
			header: map[string]string{"Cookie": name + "=" + cookie.Value}}
		if res, _ := me.do(t); res.StatusCode != want {
			t.Errorf("GetMe over TLS with %s: %s, want %d", name, res.Status, want)
		}
	}
}

// withHeader is a client interceptor setting one request header.
func withHeader(key, value string) connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set(key, value)
			return next(ctx, req)
		}
	})
}
