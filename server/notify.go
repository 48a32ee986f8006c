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
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		log.Error().Err(err).Str("notify_socket", os.Getenv("NOTIFY_SOCKET")).Msg("sd_notify READY=1 failed")
		return
	}
	defer c.Close()
	if _, err := c.Write([]byte("READY=1\nMAINPID=" + strconv.Itoa(os.Getpid()))); err != nil {
		log.Error().Err(err).Str("notify_socket", os.Getenv("NOTIFY_SOCKET")).Msg("sd_notify READY=1 failed")
		return
	}
	log.Debug().Msg("sent READY=1 to the service manager")
}
