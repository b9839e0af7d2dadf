package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/password"
)

// The sessions core: signing up, in and out, and turning a bearer token
// into a principal. auth_connect.go adapts it to parley.v1.AuthService and
// to Connect's authentication hooks.

// tokenPrefix marks Parley tokens so they are recognisable in logs and
// secret scanners.
const tokenPrefix = "pt_"

// principal is an authenticated user and the session they called with.
type principal struct {
	user      parley.User
	tokenHash []byte
	expires   time.Time
}

// issuedToken is a new session's bearer token, shown to its user once.
type issuedToken struct {
	token   string
	expires time.Time
}

var errWrongCredentials = parley.Errorf(parley.EUNAUTHORIZED, "wrong username or password")

// principalForToken checks a bearer token against the auth cache or the
// store.
func (s *Server) principalForToken(ctx context.Context, token string) (*principal, error) {
	if !strings.HasPrefix(token, tokenPrefix) || len(token) > 128 {
		return nil, parley.Errorf(parley.EUNAUTHORIZED, "invalid or expired token")
	}
	hash := hashToken(token)
	session, err := s.sessionFor(ctx, hash, s.auth.ttl)
	if err != nil {
		return nil, err
	}
	return &principal{user: session.user, tokenHash: hash, expires: session.expires}, nil
}

// sessionFor returns the unexpired session stored under hash (a token's
// or a stream ticket's): from the auth cache (auth_cache.go) if the store
// confirmed it at most maxAge ago, else from the store, whose
// EUNAUTHORIZED says there is none.
func (s *Server) sessionFor(ctx context.Context, hash []byte, maxAge time.Duration) (cachedSession, error) {
	now := s.now()
	if c, ok := s.auth.sessions.get(string(hash), now, maxAge); ok && now.Before(c.expires) {
		return c, nil
	}
	generation := s.auth.sessions.begin()
	session, user, err := s.store.SessionUser(ctx, hash, now)
	if err != nil {
		return cachedSession{}, err
	}
	c := cachedSession{user: user, expires: session.ExpireTime}
	s.auth.sessions.put(string(hash), c, now, generation)
	return c, nil
}

// signUp creates a user and a first session for it. A taken username is
// already_exists, which tells that the user exists: sign-ups are therefore
// limited per client address, as failed sign-ins are (quota.go).
func (s *Server) signUp(ctx context.Context, username, pass string) (parley.User, issuedToken, error) {
	v := append(parley.ValidateUsername("username", username), validateNewPassword("password", pass)...)
	if err := parley.Invalid(v); err != nil {
		return parley.User{}, issuedToken{}, err
	}
	ip := clientIPFrom(ctx)
	if err := s.quotas.signUp(ip); err != nil {
		return parley.User{}, issuedToken{}, err
	}
	hash, err := password.Hash(pass)
	if err != nil {
		return parley.User{}, issuedToken{}, err
	}
	user, err := s.store.CreateUser(ctx, username, hash)
	if err != nil {
		return parley.User{}, issuedToken{}, err
	}
	s.quotas.knownSignIn(ip, username)
	token, err := s.startSession(ctx, user)
	return user, token, err
}

// validateNewPassword reports what is wrong with a new password, if
// anything: parley.ValidatePassword's length, and not one of the
// password.CommonCount most used passwords.
func validateNewPassword(field, pass string) []parley.FieldViolation {
	if v := parley.ValidatePassword(field, pass); v != nil {
		return v
	}
	if password.IsCommon(pass) {
		return []parley.FieldViolation{{Field: field, Description: "is too common: it is one of the 10,000 most used passwords"}}
	}
	return nil
}

// signIn checks a username and password and starts a session. An unknown
// user and a wrong password get the same error, after the same work, and
// count the same against the sign-in limits (quota_signin.go), which are
// checked before the username is looked up.
func (s *Server) signIn(ctx context.Context, username, pass string) (parley.User, issuedToken, error) {
	if len(username) > parley.UsernameMaxLen || len(pass) > parley.PasswordMaxLen {
		return parley.User{}, issuedToken{}, errWrongCredentials
	}
	attempt, err := s.quotas.beginSignIn(clientIPFrom(ctx), username)
	if err != nil {
		return parley.User{}, issuedToken{}, err
	}
	user, err := s.checkPassword(ctx, username, pass)
	switch {
	case errors.Is(err, errWrongCredentials):
		attempt.failed()
		return parley.User{}, issuedToken{}, err
	case err != nil:
		attempt.abandon()
		return parley.User{}, issuedToken{}, err
	}
	attempt.succeeded()
	token, err := s.startSession(ctx, user)
	return user, token, err
}

// checkPassword returns the user if the password is theirs, and
// errWrongCredentials if it is not or there is no such user.
func (s *Server) checkPassword(ctx context.Context, username, pass string) (parley.User, error) {
	user, hash, err := s.store.UserByUsername(ctx, username)
	if parley.ErrorCodeOf(err) == parley.ENOTFOUND {
		// Hash anyway, so an unknown user takes as long as a wrong password.
		_, _ = password.Verify(dummyHash(), pass)
		return parley.User{}, errWrongCredentials
	} else if err != nil {
		return parley.User{}, err
	}
	ok, err := password.Verify(hash, pass)
	if err != nil {
		return parley.User{}, err
	}
	if !ok {
		return parley.User{}, errWrongCredentials
	}
	return user, nil
}

// signOut ends the caller's session and every stream opened with it, on
// every replica (revocation.go), and drops it from every replica's auth
// cache: the token is refused at once here, and on the others as soon as
// the revocation reaches them.
func (s *Server) signOut(ctx context.Context, p *principal) error {
	if err := s.store.DeleteSession(ctx, p.tokenHash); err != nil {
		return err
	}
	s.revoke(ctx, parley.Revocation{TokenHash: p.tokenHash})
	return nil
}

func (s *Server) startSession(ctx context.Context, user parley.User) (issuedToken, error) {
	token := newToken()
	now := s.now()
	session := parley.Session{TokenHash: hashToken(token), UserID: user.ID, CreateTime: now, ExpireTime: now.Add(s.cfg.tokenTTL)}
	if err := s.store.CreateSession(ctx, session); err != nil {
		return issuedToken{}, err
	}
	return issuedToken{token: token, expires: session.ExpireTime}, nil
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
