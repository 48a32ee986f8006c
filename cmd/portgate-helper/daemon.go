package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/portgate/portgate/helper"
	"github.com/portgate/portgate/internal/logging"
)

const daemonHelp = `Listen on the Unix socket named in the [daemon] table of the policy and
serve every portgate server that connects, checking each one's credentials
as the kernel reports them. Started as root, the daemon creates its socket,
switches to the [daemon] user keeping only the bind right, and runs as that
user; started as that user with the file capability, it works the same.
SIGHUP rereads the policy; SIGTERM stops the daemon.

Policy keys, in [daemon]:
  socket        socket path (default %s); its directory must be
                writable by no one but its owner
  socket_group  group that owns the socket (default: the daemon's own)
  socket_mode   permission bits of the socket, within 0660 (default "0600")
  user          account to switch to when started as root

and in [limits]:
%s`

func runDaemon(args []string) int {
	fs := newFlagSet("daemon", fmt.Sprintf(daemonHelp, helper.DefaultDaemonSocket, helper.LimitsHelp()))
	level := fs.String("log-level", "info", "log `level`: trace, debug, info, warn or error")
	fs.Parse(args)
	log, err := logging.New(os.Stderr, *level)
	if err != nil {
		fmt.Fprintf(os.Stderr, "portgate-helper: invalid --log-level %q: %v\n", *level, err)
		return 2
	}
	if stray := helper.CloseStrayDescriptors(-1); len(stray) > 0 {
		log.Warn().Ints("fds", stray).Msg("closed descriptors inherited by accident")
	}
	if err := helper.RefuseSetuid(); err != nil {
		log.Error().Err(err).Msg("helper cannot start")
		return 1
	}

	d, sock, err := startDaemon(log)
	if err != nil {
		log.Error().Err(err).Msg("daemon cannot start")
		return 1
	}
	defer sock.Close()
	policyDir := filepath.Dir(helper.PolicyPath)
	// /etc as a whole, not /etc/passwd and /etc/group: tools such as
	// useradd replace those files by rename, and a Landlock rule follows the
	// old file. File modes still keep /etc/shadow from the daemon's user.
	confine(log, existing(policyDir, "/etc"))

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		for sig := range signals {
			if sig == syscall.SIGHUP {
				d.Reload(helper.PolicyPath)
				continue
			}
			log.Info().Str("signal", sig.String()).Msg("daemon stopping")
			d.Close()
			return
		}
	}()
	log.Info().Str("socket", sock.Path).Int("uid", os.Getuid()).Str("mechanism", d.Mechanism.String()).Msg("daemon started")
	d.Serve()
	log.Info().Msg("daemon stopped")
	return 0
}

// startDaemon loads the policy, creates the socket and drops privileges,
// in the order the user the daemon starts as needs: root creates the
// socket and then switches user, anyone else drops privileges first.
func startDaemon(log zerolog.Logger) (*helper.Daemon, *helper.DaemonSocket, error) {
	asRoot := os.Geteuid() == 0
	var mech *helper.Mechanism
	var err error
	if !asRoot {
		if mech, err = helper.DropPrivileges(); err != nil {
			return nil, nil, err
		}
	}
	policy, err := helper.LoadPolicy(helper.PolicyPath, 0)
	if errors.Is(err, helper.ErrNoPolicy) {
		return nil, nil, fmt.Errorf("%w: a daemon needs one, if only for its [daemon] table", err)
	}
	if err != nil {
		return nil, nil, err
	}
	sock, err := helper.ListenDaemonSocket(policy.Daemon)
	if err != nil {
		return nil, nil, err
	}
	if asRoot {
		if policy.Daemon.UID > 0 {
			err = helper.SwitchUser(policy.Daemon.UID, policy.Daemon.GID)
		} else {
			log.Warn().Msg("running as root: set user in the [daemon] table of the policy to run as an unprivileged account")
		}
		if err == nil {
			mech, err = helper.DropPrivileges()
		}
		if err != nil {
			sock.Close()
			return nil, nil, err
		}
	}
	logMechanism(log, mech)
	d := helper.NewDaemon(sock.Listener, policy, mech, log)
	d.Path = sock.Path
	return d, sock, nil
}

// existing returns the paths that exist, for Landlock rules.
func existing(paths ...string) []string {
	var out []string
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}
