package main

import (
	"github.com/urfave/cli/v2"

	"github.com/portgate/portgate/server"
)

// execShimCommand is the hidden first step of every child of an exec
// service: see server.ExecShimCommand.
func execShimCommand() *cli.Command {
	return &cli.Command{
		Name:            server.ExecShimCommand,
		Hidden:          true,
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) > 0 && args[0] == "--" {
				args = args[1:]
			}
			// 127 is what shells return for a command that cannot run.
			return cli.Exit(server.RunExecShim(args).Error(), 127)
		},
	}
}
