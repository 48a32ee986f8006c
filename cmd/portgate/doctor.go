package main

import (
	"os"
	"runtime"

	"github.com/urfave/cli/v2"

	"github.com/portgate/portgate/helper"
	"github.com/portgate/portgate/server"
	"github.com/portgate/portgate/server/doctor"
)

func doctorCommand() *cli.Command {
	return &cli.Command{
		Name:  "doctor",
		Usage: "check that this host can grant portgate privileged ports, and print the fixes",
		Description: `doctor detects how this operating system grants the right to bind ports
below 1024, checks the installed portgate-helper, its file, its policy and
the service account, and runs "portgate-helper check" as that account (as
root, doctor switches to it for the check). That check binds a loopback
address on a port below 1024 that the policy allows the account (80 when
it allows 80) and closes it at once, so it fails while another process
holds that port. Each problem comes with the commands that fix it.

Exit status: 0 when a port below 1024 can be granted now, 1 otherwise.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "helper", Value: server.DefaultHelperPath, Usage: "portgate-helper `PATH` to check"},
			&cli.StringFlag{Name: "policy", Value: helper.PolicyPath, Usage: "helper policy `FILE` to check"},
			&cli.StringFlag{Name: "account", Value: "portgate", Usage: "service account `NAME` that asks the helper for ports"},
			&cli.StringFlag{Name: "smf-service", Value: doctor.DefaultSMFService, Usage: "SMF `FMRI` of the helper daemon (Solaris and illumos)"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON, for scripts"},
		},
		Action: runDoctor,
	}
}

func runDoctor(c *cli.Context) error {
	opts := doctor.Options{
		GOOS:       runtime.GOOS,
		HelperPath: c.String("helper"),
		PolicyPath: c.String("policy"),
		Account:    c.String("account"),
		SMFService: c.String("smf-service"),
	}
	report := doctor.Diagnose(c.Context, doctor.LocalHost{}, opts)
	write := doctor.WriteText
	if c.Bool("json") {
		write = doctor.WriteJSON
	}
	if err := write(os.Stdout, report); err != nil {
		return err
	}
	if !report.CanGrant {
		return cli.Exit("", 1)
	}
	return nil
}
