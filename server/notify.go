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
