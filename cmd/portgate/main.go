// Command portgate is the unprivileged portgate server. It runs services on
// sockets it binds itself or receives from portgate-helper.
package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/portgate/portgate/internal/logging"
	"github.com/portgate/portgate/protocol"
	"github.com/portgate/portgate/server"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	app := &cli.App{
		Name:  "portgate",
		Usage: "serve on privileged ports without root, through portgate-helper",
		// An unknown command is a usage error (2), not ctl's "no such
		// service" (3), which is what urfave/cli would return.
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(os.Stderr, "portgate: unknown command %q: run %s --help for the list\n", name, c.Command.HelpName)
			os.Exit(exitUsage)
		},
		Commands: []*cli.Command{
			serveCommand(),
			doctorCommand(),
			ctlCommand(),
			listenExecCommand(),
			{
				Name:  "version",
				Usage: "print the version",
				Action: func(*cli.Context) error {
					fmt.Printf("portgate %s (protocol %d, helper %s)\n", version, protocol.Version, server.DefaultHelperPath)
					return nil
				},
			},
		},
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "portgate: %v\n", err)
		os.Exit(1)
	}
}

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the services of a config file, or the built-in welcome page on port 80",
		Description: `Without --config, portgate serves a welcome page on tcp://:80.
Started as root it switches to the --user account before it reads or
opens anything; it refuses to run as root without --user.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "TOML config `FILE`; omit for the built-in default"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "account `NAME` to switch to when started as root"},
			&cli.StringFlag{Name: "helper", Usage: "portgate-helper `PATH`; without it: helper in the config, then $PORTGATE_HELPER, then " + server.DefaultHelperPath},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "log `LEVEL`: trace, debug, info, warn or error"},
		},
		Action: serve,
	}
}

func serve(c *cli.Context) error {
	if c.NArg() > 0 {
		return cli.Exit(fmt.Sprintf("portgate serve takes no arguments, got %q: name the config with --config FILE", c.Args().Slice()), exitUsage)
	}
	log, err := logging.New(os.Stderr, c.String("log-level"))
	if err != nil {
		return fmt.Errorf("invalid --log-level %q: %w", c.String("log-level"), err)
	}
	// During an upgrade two server processes write to one log.
	log = log.With().Int("pid", os.Getpid()).Logger()
	if err := dropRoot(c.String("user")); err != nil {
		return err
	}

	cfg := server.DefaultConfig()
	if path := c.String("config"); path != "" {
		if cfg, err = server.LoadConfig(path); err != nil {
			if errors.Is(err, fs.ErrPermission) {
				return fmt.Errorf("%w: the server reads it as uid %d, after --user", err, os.Getuid())
			}
			return err
		}
	}
	client := &server.Client{HelperPath: cfg.Helper, HelperSocket: cfg.HelperSocket}
	if p := c.String("helper"); p != "" {
		client.HelperPath = p
	}
	defer client.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log.Info().Int("uid", os.Getuid()).Int("pid", os.Getpid()).Str("config", c.String("config")).Msg("server starting")
	s := &server.Server{Config: cfg, ConfigPath: c.String("config"), Client: client, Log: log}
	if err := s.Run(ctx); err != nil {
		return err
	}
	log.Info().Msg("server stopped")
	return nil
}

// dropRoot switches to the named account when running as root, and refuses
// to go on as root.
func dropRoot(name string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	if name == "" {
		return errors.New("refusing to serve as root: pass --user NAME to switch to an unprivileged account, or start portgate as that account")
	}
	return server.SwitchUser(name)
}
