package main

import (
	"context"
	"flag"
	"strings"
)

// runHello calls the Greeter: `parley hello [NAME]`.
func runHello(ctx context.Context, e *cli, fs *flag.FlagSet, args []string) error {
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
