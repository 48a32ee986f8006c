package main

import (
	"github.com/urfave/cli/v2"

	"github.com/portgate/portgate/server"
)

// listenExecCommand sets LISTEN_PID to its own pid and execs a program.
// Every child of an exec service starts through it; wrapper scripts that
// fork use it to pass their sockets on. See server.ExecShimCommand.
func listenExecCommand() *cli.Command {
	return &cli.Command{
		Name:      server.ExecShimCommand,
		Usage:     "run PROGRAM with the inherited sockets, LISTEN_PID set to its own pid",
		ArgsUsage: "-- PROGRAM [ARGS...]",
		Description: `An exec service's child is started through this command. It checks
that descriptors 3 to 3+LISTEN_FDS-1 are sockets, sets LISTEN_PID to its
own pid and replaces itself with PROGRAM, which keeps that pid.

A wrapper script that execs the program needs nothing more. A wrapper that
forks (runs the program in the background, in a pipeline, or waits for
it) leaves LISTEN_PID naming the wrapper, and a socket-activated program
then ignores its sockets. Run the program through this command instead:

    #!/bin/sh
    prepare-something
    portgate listen-exec -- /usr/sbin/mydaemon --foreground &
    wait

With LISTEN_FDS=0 it removes the LISTEN_* variables and runs PROGRAM
with no socket. It exits with status 127 when it cannot run PROGRAM, when
LISTEN_FDS is not set, or when a descriptor LISTEN_FDS promises is not a
socket.`,
		SkipFlagParsing: true,
		// The arguments belong to PROGRAM, "help" included.
		HideHelp: true,
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
				cli.ShowSubcommandHelp(c)
				if len(args) == 0 {
					return cli.Exit("portgate listen-exec: no program given: use portgate listen-exec -- PROGRAM [ARGS...]", 127)
				}
				return nil
			}
			if args[0] == "--" {
				args = args[1:]
			}
			// 127 is what shells return for a command that cannot run.
			return cli.Exit("portgate "+server.RunExecShim(args).Error(), 127)
		},
	}
}
