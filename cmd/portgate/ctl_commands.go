package main

import (
	"fmt"
	"net/url"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/portgate/portgate/server"
)

func ctlListCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list every service with its state and listen addresses",
		Action: func(c *cli.Context) error {
			var svcs []server.ServiceStatus
			return ctlRun(c, "GET", "/v1/services", nil, &svcs, func() { printServices(os.Stdout, svcs) })
		},
	}
}

func ctlShowCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "show one service: config, state, last error and listeners",
		ArgsUsage: "NAME",
		Action: func(c *cli.Context) error {
			name, err := oneName(c)
			if err != nil {
				return err
			}
			var st server.ServiceStatus
			return ctlRun(c, "GET", "/v1/services/"+url.PathEscape(name), nil, &st, func() { printService(os.Stdout, st) })
		},
	}
}

func ctlStatusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the server, its helper connection and every listener with its real local address",
		Action: func(c *cli.Context) error {
			var st server.ServerStatus
			return ctlRun(c, "GET", "/v1/status", nil, &st, func() { printStatus(os.Stdout, st) })
		},
	}
}

// ctlNameCommand is a command that takes one service name and sends
// method to /v1/services/NAME followed by suffix.
func ctlNameCommand(name, usage, method, suffix string) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: "NAME",
		Action: func(c *cli.Context) error {
			svc, err := oneName(c)
			if err != nil {
				return err
			}
			path := "/v1/services/" + url.PathEscape(svc) + suffix
			if method == "DELETE" {
				var r struct {
					Removed string `json:"removed"`
					Warning string `json:"warning"`
				}
				return ctlRun(c, method, path, nil, &r, func() {
					fmt.Printf("removed %s\n", r.Removed)
					if r.Warning != "" {
						fmt.Fprintf(os.Stderr, "warning: %s\n", r.Warning)
					}
				})
			}
			var st server.ServiceStatus
			return ctlRun(c, method, path, nil, &st, func() { printService(os.Stdout, st) })
		},
	}
}

// ctlRun sends one request and prints the reply: raw JSON with --json,
// else through print.
func ctlRun(c *cli.Context, method, path string, body, out any, print func()) error {
	cc, err := newCtlClient(c)
	if err != nil {
		return err
	}
	raw, err := cc.do(method, path, body, out)
	if err != nil {
		return err
	}
	if ctlJSON(c) {
		os.Stdout.Write(raw)
		return nil
	}
	print()
	return nil
}

// ctlJSON reports whether --json was given, before or after the subcommand.
func ctlJSON(c *cli.Context) bool {
	for _, ctx := range c.Lineage() {
		if ctx.Bool("json") {
			return true
		}
	}
	return false
}

func oneName(c *cli.Context) (string, error) {
	if c.NArg() != 1 || c.Args().First() == "" {
		return "", cli.Exit(fmt.Sprintf("%s takes one service NAME, got %q: flags such as --json go before NAME", c.Command.Name, c.Args().Slice()), exitUsage)
	}
	return c.Args().First(), nil
}
