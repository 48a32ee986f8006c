package server

import (
	"net"
	"os"
	"strconv"

	"github.com/rs/zerolog"
)

// notifyReady sends READY=1 to the service manager's notification socket
// when $NOTIFY_SOCKET names one, as systemd's Type=notify expects. Go's
// net package maps a leading @ to the abstract namespace.
func notifyReady(log zerolog.Logger) {
	sdNotify(log, "READY=1\nMAINPID="+strconv.Itoa(os.Getpid()))
}

// notifyMainPID tells the service manager that pid is now the main
// process, after an upgrade handed the sockets to it.
func notifyMainPID(log zerolog.Logger, pid int) {
	sdNotify(log, "MAINPID="+strconv.Itoa(pid)+"\nREADY=1")
}

// upgradeNotifyEnv carries the service manager's NOTIFY_SOCKET, or an
// empty value when there was none, to a successor, whose NOTIFY_SOCKET
// names its predecessor's socket until it is ready.
const upgradeNotifyEnv = "PORTGATE_NEXT_NOTIFY_SOCKET"

// takeUpgradeNotify removes upgradeNotifyEnv from the environment, so
// that no child inherits it, and returns its value and whether it was set.
func takeUpgradeNotify() (string, bool) {
	v, ok := os.LookupEnv(upgradeNotifyEnv)
	os.Unsetenv(upgradeNotifyEnv)
	return v, ok
}

// restoreNotifySocket points NOTIFY_SOCKET back at the service manager's
// socket once a successor has reported ready to its predecessor, so that
// its own upgrades, in turn, reach the service manager.
func restoreNotifySocket(path string, set bool) {
	switch {
	case !set:
	case path == "":
		os.Unsetenv("NOTIFY_SOCKET")
	default:
		os.Setenv("NOTIFY_SOCKET", path)
	}
}

func sdNotify(log zerolog.Logger, state string) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return
	}
	log = log.With().Str("notify_socket", path).Str("state", state).Logger()
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		log.Error().Err(err).Msg("sd_notify failed")
		return
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		log.Error().Err(err).Msg("sd_notify failed")
		return
	}
	log.Debug().Msg("sd_notify sent")
}
