package client

import (
	"context"

	"connectrpc.com/connect"

	"github.com/parley-chat/parley/gen/helloworld"
)

// Hello calls helloworld.Greeter/SayHello and returns its greeting. It needs
// no token.
func (c *Client) Hello(ctx context.Context, name string) (string, error) {
	ctx, cancel := c.unaryContext(ctx)
	defer cancel()
	res, err := c.greeter.SayHello(ctx, connect.NewRequest(&helloworld.HelloRequest{Name: name}))
	if err != nil {
		return "", domainError(ctx, err)
	}
	return res.Msg.GetMessage(), nil
}
