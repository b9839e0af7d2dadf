package server

import (
	"context"
	"mime"
	"net/http"
	"time"

	"github.com/parley-chat/parley"
)

// Session cookies: the browser app's way to hold its token out of reach
// of page script. SignIn and SignUp deliver the token as an HttpOnly
// cookie instead of in the response body when the request carries
// `Parley-Session: cookie`; authenticate accepts the cookie where a bearer
// token is missing; SignOut clears it. Other clients keep sending
// `Authorization: Bearer`, which always wins over a cookie.
//
// Cross-site request forgery is what a cookie brings that a bearer token
// does not: the browser attaches it by itself. A cookie is therefore read
// (and set) only on a request no other site can make:
//
//   - SameSite=Strict: browsers do not attach it to requests from another
//     site at all.
//   - POST with an RPC content type (application/json, application/proto,
//     application/connect+*, application/grpc-web*). None is a CORS
//     "simple" type, so a page of another origin (even a same-site one,
//     such as a sibling subdomain or another port of localhost) cannot send
//     one without a preflight, and the preflight fails: our CORS never
//     allows credentials. Forms and no-cors fetches, which need no
//     preflight, can only send the simple types (text/plain, form
//     encodings). A Connect GET (unary calls without side effects, simple
//     and cacheable) never authenticates by cookie.
//   - Sec-Fetch-Site, where the browser sends it (all current ones do),
//     must be same-origin.
//
// The cookie is Secure, and named with the __Host- prefix (no Domain, Path
// /, Secure: a sibling subdomain cannot plant one), when the request came
// over TLS, directly or through a proxy that says so in X-Forwarded-Proto.
// On plain HTTP (http://localhost while developing, and tests) it is
// parley_session without Secure, which browsers would refuse to store;
// such a request reads only that name, a TLS one only the __Host- one.
const (
	sessionCookieName       = "parley_session"
	secureSessionCookieName = "__Host-parley_session"
	// sessionDeliveryHeader, set to "cookie" on SignIn or SignUp, asks for
	// the token as a session cookie. It is not a CORS-allowed header, so
	// only same-origin pages can send it.
	sessionDeliveryHeader = "Parley-Session"
)

var errCookieNotAllowed = parley.Errorf(parley.EPRECONDITION,
	"a session cookie is only set on a same-origin POST with an RPC content type; other clients use the token from the response")

// cookieRPCTypes are the request content types a session cookie is
// accepted with: what the Connect and gRPC-Web browser transports send.
var cookieRPCTypes = map[string]bool{
	"application/json":                true,
	"application/proto":               true,
	"application/connect+json":        true,
	"application/connect+proto":       true,
	"application/grpc-web":            true,
	"application/grpc-web+proto":      true,
	"application/grpc-web+json":       true,
	"application/grpc-web-text":       true,
	"application/grpc-web-text+proto": true,
}

// webRequest is what a request allows about session cookies.
type webRequest struct {
	cookieSafe bool // the request is one no other site can make (see above)
	secure     bool // it came over TLS
}

func webRequestOf(r *http.Request) webRequest {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	site := r.Header.Get("Sec-Fetch-Site")
	return webRequest{
		cookieSafe: r.Method == http.MethodPost && err == nil && cookieRPCTypes[ct] &&
			(site == "" || site == "same-origin"),
		secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https",
	}
}

func (w webRequest) cookieName() string {
	if w.secure {
		return secureSessionCookieName
	}
	return sessionCookieName
}

// sessionCookieToken returns the token of the request's session cookie,
// if the request may authenticate with one.
func sessionCookieToken(r *http.Request, w webRequest) (string, bool) {
	if !w.cookieSafe {
		return "", false
	}
	c, err := r.Cookie(w.cookieName())
	if err != nil || c.Value == "" {
		return "", false
	}
	return c.Value, true
}

// wantsSessionCookie tells whether a SignIn or SignUp asked for its token
// as a cookie; errCookieNotAllowed if it asked on a request that may not
// carry one.
func wantsSessionCookie(h http.Header, c *caller) (bool, error) {
	if h.Get(sessionDeliveryHeader) != "cookie" {
		return false, nil
	}
	if c == nil || !c.web.cookieSafe {
		return false, errCookieNotAllowed
	}
	return true, nil
}

// sessionCookie is the Set-Cookie value delivering token until expires,
// or, with an empty token, clearing the cookie.
func sessionCookie(w webRequest, token string, expires time.Time, now time.Time) string {
	c := &http.Cookie{ //nolint:gosec // Secure whenever the request came over TLS (w.secure): a plain-HTTP localhost would drop a Secure cookie
		Name:     w.cookieName(),
		Value:    token,
		Path:     "/",
		Secure:   w.secure,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
		MaxAge:   int(expires.Sub(now).Seconds()),
	}
	if token == "" || c.MaxAge <= 0 {
		c.MaxAge = -1 // Max-Age=0: delete now
	}
	return c.String()
}

// deliverSessionCookie adds the Set-Cookie carrying token to a SignIn or
// SignUp response and returns what the response body's token becomes:
// nothing, so page script never sees the token.
func (s *Server) deliverSessionCookie(ctx context.Context, h http.Header, token issuedToken) string {
	h.Add("Set-Cookie", sessionCookie(callerFrom(ctx).web, token.token, token.expires, s.now()))
	return ""
}

// clearSessionCookie adds the Set-Cookie deleting the session cookie to a
// SignOut response, if the session came from that cookie.
func clearSessionCookie(ctx context.Context, h http.Header) {
	if c := callerFrom(ctx); c.viaCookie {
		h.Add("Set-Cookie", sessionCookie(c.web, "", time.Time{}, time.Time{}))
	}
}
