package main

import (
	"context"
	"fmt"
	"strings"
)

// runHello calls the Greeter: `parley hello [NAME]`.
func runHello(ctx context.Context, e *cli, args []string) error {
	fs := e.commandFlags("hello", "[NAME]")
	args, err := e.parse(fs, args)
	if err != nil {
		return err
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	greeting, err := c.Hello(ctx, strings.Join(args, " "))
	if err != nil {
		return e.explain(err)
	}
	if e.g.json {
		return e.printJSON(map[string]string{"message": greeting})
	}
	_, err = fmt.Fprintln(e.stdout, greeting)
	return err
}
