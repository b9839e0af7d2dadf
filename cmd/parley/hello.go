package main

import (
	"context"
	"strings"
)

// runHello calls the Greeter: `parley hello [NAME]`.
func runHello(ctx context.Context, e *cli, args []string) error {
	fs := e.commandFlags("hello", "[NAME]")
	c, args, err := e.clientArgs(fs, args, 0, -1)
	if err != nil {
		return err
	}
	greeting, err := c.Hello(ctx, strings.Join(args, " "))
	if err != nil {
		return e.explain(err)
	}
	return e.show(map[string]string{"message": greeting}, greeting)
}
