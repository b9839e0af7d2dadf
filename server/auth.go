package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"

	"connectrpc.com/authn"
	"connectrpc.com/connect"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/internal/password"
)

// publicProcedures may be called without a token. Every other procedure of
// the Parley services requires one (deny by default).
var publicProcedures = map[string]bool{
	parleyv1connect.AuthServiceSignUpProcedure: true,
	parleyv1connect.AuthServiceSignInProcedure: true,
}

// tokenPrefix marks Parley tokens so they are recognisable in logs and
// secret scanners.
const tokenPrefix = "pt_"

// caller is what authentication learned about a request: the principal, or
// why there is none.
type caller struct {
	principal *principal
	err       error
}

// principal is an authenticated user and the session they called with.
type principal struct {
	user      parley.User
	tokenHash []byte
	expires   time.Time
}

// authenticate is the authn middleware's function: it runs before anything
// of the body is read. A request without a token is anonymous; a token is
// checked against the store. The verdict is left for authorize, which knows
// the parsed procedure, so a stale token does not block SignIn.
func (s *Server) authenticate(ctx context.Context, r *http.Request) (any, error) {
	token, ok := authn.BearerToken(r)
	if !ok {
		return nil, nil //nolint:nilnil // anonymous: no info, no error
	}
	p, err := s.principalForToken(ctx, token)
	return &caller{principal: p, err: err}, nil
}

// authorize is a request gate on the Parley services, decided on the parsed
// procedure (never on a raw path).
func (s *Server) authorize(ctx context.Context, spec connect.Spec, _ connect.Peer, _ http.Header) (context.Context, error) {
	if publicProcedures[spec.Procedure] {
		return ctx, nil
	}
	c, _ := authn.GetInfo(ctx).(*caller)
	switch {
	case c == nil:
		return nil, s.connectError(ctx, errMissingToken)
	case c.err != nil:
		return nil, s.connectError(ctx, c.err)
	}
	return ctx, nil
}

var errMissingToken = parley.Errorf(parley.EUNAUTHORIZED, "missing bearer token: sign in and send Authorization: Bearer <token>")

func (s *Server) principalForToken(ctx context.Context, token string) (*principal, error) {
	if !strings.HasPrefix(token, tokenPrefix) || len(token) > 128 {
		return nil, parley.Errorf(parley.EUNAUTHORIZED, "invalid or expired token")
	}
	hash := hashToken(token)
	session, user, err := s.store.SessionUser(ctx, hash, s.now())
	if err != nil {
		return nil, err
	}
	return &principal{user: user, tokenHash: hash, expires: session.ExpireTime}, nil
}

// principalFrom returns the authenticated caller of a gated procedure.
func principalFrom(ctx context.Context) (*principal, error) {
	if c, ok := authn.GetInfo(ctx).(*caller); ok && c.principal != nil {
		return c.principal, nil
	}
	return nil, errNoPrincipal
}

// dummyHash is a password hash no password matches, verified against
// when a username is unknown.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := password.Hash(newToken())
	return h
})

func hashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go >= 1.24)
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// authHandler serves parley.v1.AuthService.
type authHandler struct{ s *Server }

var _ parleyv1connect.AuthServiceHandler = (*authHandler)(nil)

func (h *authHandler) SignUp(ctx context.Context, req *connect.Request[parleyv1.SignUpRequest]) (*connect.Response[parleyv1.SignUpResponse], error) {
	m := req.Msg
	v := append(parley.ValidateUsername("username", m.GetUsername()), parley.ValidatePassword("password", m.GetPassword())...)
	if err := parley.Invalid(v); err != nil {
		return nil, err
	}
	hash, err := password.Hash(m.GetPassword())
	if err != nil {
		return nil, err
	}
	user, err := h.s.store.CreateUser(ctx, m.GetUsername(), hash)
	if err != nil {
		return nil, err
	}
	token, expires, err := h.s.startSession(ctx, user)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&parleyv1.SignUpResponse{User: userToProto(user), Token: token, ExpireTime: timeToProto(expires)}), nil
}

func (h *authHandler) SignIn(ctx context.Context, req *connect.Request[parleyv1.SignInRequest]) (*connect.Response[parleyv1.SignInResponse], error) {
	wrong := parley.Errorf(parley.EUNAUTHORIZED, "wrong username or password")
	m := req.Msg
	if len(m.GetUsername()) > parley.UsernameMaxLen || len(m.GetPassword()) > parley.PasswordMaxLen {
		return nil, wrong
	}
	user, hash, err := h.s.store.UserByUsername(ctx, m.GetUsername())
	if parley.ErrorCodeOf(err) == parley.ENOTFOUND {
		// Hash anyway, so an unknown user takes as long as a wrong password.
		_, _ = password.Verify(dummyHash(), m.GetPassword())
		return nil, wrong
	} else if err != nil {
		return nil, err
	}
	ok, err := password.Verify(hash, m.GetPassword())
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, wrong
	}
	token, expires, err := h.s.startSession(ctx, user)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&parleyv1.SignInResponse{User: userToProto(user), Token: token, ExpireTime: timeToProto(expires)}), nil
}

func (h *authHandler) SignOut(ctx context.Context, _ *connect.Request[parleyv1.SignOutRequest]) (*connect.Response[parleyv1.SignOutResponse], error) {
	p, err := principalFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.s.store.DeleteSession(ctx, p.tokenHash); err != nil {
		return nil, err
	}
	h.s.streams.revoke(p.tokenHash)
	return connect.NewResponse(&parleyv1.SignOutResponse{}), nil
}

func (h *authHandler) GetMe(ctx context.Context, _ *connect.Request[parleyv1.GetMeRequest]) (*connect.Response[parleyv1.GetMeResponse], error) {
	p, err := principalFrom(ctx)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&parleyv1.GetMeResponse{User: userToProto(p.user)}), nil
}

func (s *Server) startSession(ctx context.Context, user parley.User) (string, time.Time, error) {
	token := newToken()
	now := s.now()
	session := parley.Session{TokenHash: hashToken(token), UserID: user.ID, CreateTime: now, ExpireTime: now.Add(s.cfg.tokenTTL)}
	if err := s.store.CreateSession(ctx, session); err != nil {
		return "", time.Time{}, err
	}
	return token, session.ExpireTime, nil
}
