package client

import (
	"context"

	"github.com/parley-chat/parley/gen/helloworld"
)

// Hello calls helloworld.Greeter/SayHello and returns its greeting. It needs
// no token.
func (c *Client) Hello(ctx context.Context, name string) (string, error) {
	res, err := unary(ctx, c, c.greeter.SayHello, &helloworld.HelloRequest{Name: name})
	if err != nil {
		return "", err
	}
	return res.GetMessage(), nil
}
