package main

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/urfave/cli/v2"

	"github.com/portgate/portgate/server"
)

func ctlAddCommand() *cli.Command {
	return &cli.Command{
		Name:  "add",
		Usage: "add a service and start it, from flags or a TOML snippet",
		Description: `The service is bound and started at once, and kept in the server's
services file so that it comes back after a restart. A TOML snippet
holds either the keys of one service (name, kind, listen, ...) or one
or more [[service]] tables, as in the config file:

    portgate ctl add --name web --kind http --listen tcp://:80 --root /srv/www
    echo 'name = "echo"
    kind = "echo"
    listen = ["tcp://127.0.0.1:7"]' | portgate ctl add --file -`,
		Flags:  serviceFlags(),
		Action: ctlAdd,
	}
}

// serviceFlags are the flags that describe a service, for add and change.
func serviceFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "read the service from TOML `FILE`; - reads standard input"},
		&cli.StringFlag{Name: "name", Usage: "service `NAME`"},
		&cli.StringFlag{Name: "kind", Usage: "service `KIND`: http, echo, proxy or exec (an exec command needs --file)"},
		&cli.StringSliceFlag{Name: "listen", Usage: "listen `URL` such as tcp://:80; repeat for more"},
		&cli.StringFlag{Name: "root", Usage: "`DIR` that an http service serves"},
		&cli.StringFlag{Name: "backend", Usage: "`HOST:PORT` that a proxy service relays to"},
		&cli.DurationFlag{Name: "drain-timeout", Usage: "how long open connections may finish when the service stops (`DURATION`, such as 10s); 0 uses the server's shutdown_timeout"},
	}
}

func ctlChangeCommand() *cli.Command {
	return &cli.Command{
		Name:  "change",
		Usage: "replace the definition of a service added with ctl add, from flags or a TOML snippet",
		Description: `The new definition replaces the old one whole. When only the listen
addresses of a running service change, the sockets of addresses in both
sets keep serving; any other change restarts the service. If the new
definition cannot start, the old one keeps running and change fails.`,
		Flags:  serviceFlags(),
		Action: ctlChange,
	}
}

func ctlChange(c *cli.Context) error {
	svcs, err := servicesFromInput(c)
	if err != nil {
		return err
	}
	return applyEach(c, svcs, "changed", func(sc server.ServiceConfig) (string, string) {
		return "PUT", "/v1/services/" + url.PathEscape(sc.Name)
	})
}

func ctlAdd(c *cli.Context) error {
	svcs, err := servicesFromInput(c)
	if err != nil {
		return err
	}
	return applyEach(c, svcs, "added", func(server.ServiceConfig) (string, string) {
		return "POST", "/v1/services"
	})
}

// applyEach sends one request per service, in order, and stops at the
// first failure. The services before it stay as they were applied, and
// when there are any, standard error names them.
func applyEach(c *cli.Context, svcs []server.ServiceConfig, done string, request func(server.ServiceConfig) (string, string)) error {
	var applied []string
	for _, sc := range svcs {
		var st server.ServiceStatus
		method, path := request(sc)
		if err := ctlRun(c, method, path, sc, &st, func() { printService(os.Stdout, st) }); err != nil {
			if len(applied) > 0 {
				fmt.Fprintf(os.Stderr, "portgate ctl %s: %s %s before %q failed; they stay %s\n", c.Command.Name, done, strings.Join(applied, ", "), sc.Name, done)
			}
			return err
		}
		applied = append(applied, sc.Name)
	}
	return nil
}

// servicesFromInput builds the services to add from --file or the flags.
func servicesFromInput(c *cli.Context) ([]server.ServiceConfig, error) {
	if c.NArg() > 0 {
		return nil, cli.Exit(fmt.Sprintf("%s takes no arguments, got %q: use --name, --kind, --listen or --file", c.Command.Name, c.Args().Slice()), exitUsage)
	}
	if path := c.String("file"); path != "" {
		if c.IsSet("name") || c.IsSet("kind") || c.IsSet("listen") || c.IsSet("root") || c.IsSet("backend") {
			return nil, cli.Exit(c.Command.Name+": use either --file or the service flags, not both", exitUsage)
		}
		svcs, err := readSnippet(path)
		if err != nil {
			return nil, cli.Exit(err.Error(), exitUsage)
		}
		return svcs, nil
	}
	sc := server.ServiceConfig{
		Name:         c.String("name"),
		Kind:         c.String("kind"),
		Listen:       c.StringSlice("listen"),
		Root:         c.String("root"),
		Backend:      c.String("backend"),
		DrainTimeout: server.Duration{Duration: c.Duration("drain-timeout")},
	}
	if sc.Kind == "exec" {
		return nil, cli.Exit(c.Command.Name+": kind exec needs a command, which has no flag: write the service as TOML and pass it with --file", exitUsage)
	}
	if sc.Name == "" || sc.Kind == "" || len(sc.Listen) == 0 {
		return nil, cli.Exit(c.Command.Name+" needs --name, --kind and at least one --listen, or --file", exitUsage)
	}
	return []server.ServiceConfig{sc}, nil
}

// readSnippet parses a TOML snippet with [[service]] tables or the keys
// of one service.
func readSnippet(path string) ([]server.ServiceConfig, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read service snippet: %w", err)
	}
	var tables struct {
		Services []server.ServiceConfig `toml:"service"`
	}
	md, err := toml.Decode(string(data), &tables)
	if err == nil && md.IsDefined("service") {
		if un := md.Undecoded(); len(un) > 0 {
			return nil, fmt.Errorf("service snippet %s: unknown key %q", path, un[0].String())
		}
		return tables.Services, nil
	}
	var sc server.ServiceConfig
	md, err = toml.Decode(string(data), &sc)
	if err != nil {
		return nil, fmt.Errorf("service snippet %s: %w", path, err)
	}
	if un := md.Undecoded(); len(un) > 0 {
		return nil, fmt.Errorf("service snippet %s: unknown key %q", path, un[0].String())
	}
	return []server.ServiceConfig{sc}, nil
}
