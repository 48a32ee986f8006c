package main

import (
	"github.com/urfave/cli/v2"

	"github.com/portgate/portgate/server"
)

// Exit codes of portgate ctl.
const (
	exitFailed      = 1 // the server rejected the request or it failed
	exitUsage       = 2 // invalid arguments or input
	exitNotFound    = 3 // no service of that name
	exitUnreachable = 4 // no Local Manager at the socket path
	exitDenied      = 5 // the Local Manager does not allow this user
)

const ctlExitCodes = `Exit codes: 0 success, 1 the request failed, 2 invalid arguments,
3 no such service, 4 the Local Manager is not reachable, 5 this user
is not allowed.`

func ctlCommand() *cli.Command {
	cmd := &cli.Command{
		Name:  "ctl",
		Usage: "control a running portgate serve through its Local Manager",
		Description: `portgate ctl talks HTTP+JSON to the Local Manager socket of a running
server. Output is a table; --json prints the server's JSON reply.

` + ctlExitCodes,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "socket", Aliases: []string{"s"}, EnvVars: []string{"PORTGATE_SOCKET"}, Usage: "Local Manager socket `PATH`; default: socket in the [manager] table of --config, else " + server.DefaultManagerSocket()},
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "server config `FILE` to read the socket path from"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON instead of tables"},
		},
		Subcommands: []*cli.Command{
			ctlListCommand(),
			ctlShowCommand(),
			ctlAddCommand(),
			ctlChangeCommand(),
			ctlNameCommand("remove", "stop a service, drain its connections and remove it", "DELETE", ""),
			ctlNameCommand("start", "start a stopped or failed service", "POST", "/start"),
			ctlNameCommand("stop", "stop a service and drain its connections; it stays listed", "POST", "/stop"),
			ctlStatusCommand(),
		},
	}
	// --json goes before or after the subcommand's name alike.
	for _, sub := range cmd.Subcommands {
		sub.Flags = append(sub.Flags, &cli.BoolFlag{Name: "json", Usage: "print JSON instead of tables"})
	}
	return cmd
}

// socketPath returns the Local Manager socket that ctl should use.
func socketPath(c *cli.Context) (string, error) {
	if p := c.String("socket"); p != "" {
		return p, nil
	}
	if path := c.String("config"); path != "" {
		cfg, err := server.LoadConfig(path)
		if err != nil {
			return "", cli.Exit(err.Error(), exitUsage)
		}
		return cfg.Manager.SocketPath(), nil
	}
	return server.DefaultManagerSocket(), nil
}
