package server

import (
	"context"
	"net/http"

	"connectrpc.com/authn"
	"connectrpc.com/connect"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
)

// publicProcedures may be called without a token. Every other procedure of
// the Parley services requires one (deny by default).
var publicProcedures = map[string]bool{
	parleyv1connect.AuthServiceSignUpProcedure: true,
	parleyv1connect.AuthServiceSignInProcedure: true,
}

// caller is what authentication learned about a request: the principal, or
// why there is none.
type caller struct {
	principal *principal
	err       error
	web       webRequest // what the request allows about session cookies
	viaCookie bool       // the token came from the session cookie
}

// authenticate is the authn middleware's function: it runs before anything
// of the body is read. A request without a token is anonymous; a token is
// checked against the store. The verdict is left for authorize, which knows
// the parsed procedure, so a stale token does not block SignIn. The token
// is the bearer token, or else the session cookie where the request may
// use one (session_cookie.go).
func (s *Server) authenticate(ctx context.Context, r *http.Request) (any, error) {
	c := &caller{web: webRequestOf(r)}
	token, ok := authn.BearerToken(r)
	if !ok {
		token, c.viaCookie = sessionCookieToken(r, c.web)
		if !c.viaCookie {
			return c, nil // anonymous
		}
	}
	c.principal, c.err = s.principalForToken(ctx, token)
	return c, nil
}

// authorize is a request gate on the Parley services, decided on the parsed
// procedure (never on a raw path).
func (s *Server) authorize(ctx context.Context, spec connect.Spec, _ connect.Peer, _ http.Header) (context.Context, error) {
	if publicProcedures[spec.Procedure] {
		return ctx, nil
	}
	c, _ := authn.GetInfo(ctx).(*caller)
	switch {
	case c == nil || c.principal == nil && c.err == nil:
		return nil, s.connectError(ctx, errMissingToken)
	case c.err != nil:
		return nil, s.connectError(ctx, c.err)
	}
	return ctx, nil
}

var errMissingToken = parley.Errorf(parley.EUNAUTHORIZED, "missing bearer token: sign in and send Authorization: Bearer <token>")

// principalFrom returns the authenticated caller of a gated procedure.
func principalFrom(ctx context.Context) (*principal, error) {
	if c := callerFrom(ctx); c.principal != nil {
		return c.principal, nil
	}
	return nil, errNoPrincipal
}

// callerFrom returns what authenticate learned (never nil).
func callerFrom(ctx context.Context) *caller {
	if c, ok := authn.GetInfo(ctx).(*caller); ok {
		return c
	}
	return &caller{}
}

// authHandler serves parley.v1.AuthService over Connect, gRPC and
// gRPC-Web on the sessions core (session.go).
type authHandler struct{ s *Server }

var _ parleyv1connect.AuthServiceHandler = (*authHandler)(nil)

func (h *authHandler) SignUp(ctx context.Context, req *connect.Request[parleyv1.SignUpRequest]) (*connect.Response[parleyv1.SignUpResponse], error) {
	cookie, err := wantsSessionCookie(req.Header(), callerFrom(ctx))
	if err != nil {
		return nil, err
	}
	user, token, err := h.s.signUp(ctx, req.Msg.GetUsername(), req.Msg.GetPassword())
	if err != nil {
		return nil, err
	}
	res := connect.NewResponse(&parleyv1.SignUpResponse{User: userToProto(user), Token: token.token, ExpireTime: timeToProto(token.expires)})
	if cookie {
		res.Msg.Token = h.s.deliverSessionCookie(ctx, res.Header(), token)
	}
	return res, nil
}

func (h *authHandler) SignIn(ctx context.Context, req *connect.Request[parleyv1.SignInRequest]) (*connect.Response[parleyv1.SignInResponse], error) {
	cookie, err := wantsSessionCookie(req.Header(), callerFrom(ctx))
	if err != nil {
		return nil, err
	}
	user, token, err := h.s.signIn(ctx, req.Msg.GetUsername(), req.Msg.GetPassword())
	if err != nil {
		return nil, err
	}
	res := connect.NewResponse(&parleyv1.SignInResponse{User: userToProto(user), Token: token.token, ExpireTime: timeToProto(token.expires)})
	if cookie {
		res.Msg.Token = h.s.deliverSessionCookie(ctx, res.Header(), token)
	}
	return res, nil
}

func (h *authHandler) SignOut(ctx context.Context, _ *connect.Request[parleyv1.SignOutRequest]) (*connect.Response[parleyv1.SignOutResponse], error) {
	p, err := principalFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.s.signOut(ctx, p); err != nil {
		return nil, err
	}
	res := connect.NewResponse(&parleyv1.SignOutResponse{})
	clearSessionCookie(ctx, res.Header())
	return res, nil
}

func (h *authHandler) GetMe(ctx context.Context, _ *connect.Request[parleyv1.GetMeRequest]) (*connect.Response[parleyv1.GetMeResponse], error) {
	p, err := principalFrom(ctx)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&parleyv1.GetMeResponse{User: userToProto(p.user)}), nil
}
