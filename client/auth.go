package client

import (
	"context"
	"time"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
)

// Session is a signed-in user and the bearer token that proves it.
type Session struct {
	User       parley.User
	Token      string
	ExpireTime time.Time
}

// SignUp creates an account, signs it in and makes the client use its
// token. Errors: EINVALID, ECONFLICT (username taken).
func (c *Client) SignUp(ctx context.Context, username, password string) (Session, error) {
	res, err := unary(ctx, c, c.auth.SignUp, &parleyv1.SignUpRequest{Username: username, Password: password})
	if err != nil {
		return Session{}, err
	}
	return c.startSession(res.GetUser(), res.GetToken(), res.GetExpireTime().AsTime()), nil
}

// SignIn exchanges a username and password for a new token and makes the
// client use it. Errors: EUNAUTHORIZED (unknown user or wrong password).
func (c *Client) SignIn(ctx context.Context, username, password string) (Session, error) {
	res, err := unary(ctx, c, c.auth.SignIn, &parleyv1.SignInRequest{Username: username, Password: password})
	if err != nil {
		return Session{}, err
	}
	return c.startSession(res.GetUser(), res.GetToken(), res.GetExpireTime().AsTime()), nil
}

func (c *Client) startSession(u *parleyv1.User, token string, expires time.Time) Session {
	c.SetToken(token)
	return Session{User: userFromProto(u), Token: token, ExpireTime: expires}
}

// SignOut revokes the client's token and stops sending it.
func (c *Client) SignOut(ctx context.Context) error {
	if _, err := unary(ctx, c, c.auth.SignOut, &parleyv1.SignOutRequest{}); err != nil {
		return err
	}
	c.SetToken("")
	return nil
}

// Me returns the user the token belongs to. Errors: EUNAUTHORIZED.
func (c *Client) Me(ctx context.Context) (parley.User, error) {
	res, err := unary(ctx, c, c.auth.GetMe, &parleyv1.GetMeRequest{})
	if err != nil {
		return parley.User{}, err
	}
	return userFromProto(res.GetUser()), nil
}
