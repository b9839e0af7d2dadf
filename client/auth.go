package client

import (
	"context"
	"time"

	"connectrpc.com/connect"

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
	ctx, cancel := c.unaryContext(ctx)
	defer cancel()
	res, err := c.auth.SignUp(ctx, connect.NewRequest(&parleyv1.SignUpRequest{Username: username, Password: password}))
	if err != nil {
		return Session{}, domainError(ctx, err)
	}
	return c.startSession(res.Msg.GetUser(), res.Msg.GetToken(), res.Msg.GetExpireTime().AsTime()), nil
}

// SignIn exchanges a username and password for a new token and makes the
// client use it. Errors: EUNAUTHORIZED (unknown user or wrong password).
func (c *Client) SignIn(ctx context.Context, username, password string) (Session, error) {
	ctx, cancel := c.unaryContext(ctx)
	defer cancel()
	res, err := c.auth.SignIn(ctx, connect.NewRequest(&parleyv1.SignInRequest{Username: username, Password: password}))
	if err != nil {
		return Session{}, domainError(ctx, err)
	}
	return c.startSession(res.Msg.GetUser(), res.Msg.GetToken(), res.Msg.GetExpireTime().AsTime()), nil
}

func (c *Client) startSession(u *parleyv1.User, token string, expires time.Time) Session {
	c.SetToken(token)
	return Session{User: userFromProto(u), Token: token, ExpireTime: expires}
}

// SignOut revokes the client's token and stops sending it.
func (c *Client) SignOut(ctx context.Context) error {
	ctx, cancel := c.unaryContext(ctx)
	defer cancel()
	if _, err := c.auth.SignOut(ctx, connect.NewRequest(&parleyv1.SignOutRequest{})); err != nil {
		return domainError(ctx, err)
	}
	c.SetToken("")
	return nil
}

// Me returns the user the token belongs to. Errors: EUNAUTHORIZED.
func (c *Client) Me(ctx context.Context) (parley.User, error) {
	ctx, cancel := c.unaryContext(ctx)
	defer cancel()
	res, err := c.auth.GetMe(ctx, connect.NewRequest(&parleyv1.GetMeRequest{}))
	if err != nil {
		return parley.User{}, domainError(ctx, err)
	}
	return userFromProto(res.Msg.GetUser()), nil
}
