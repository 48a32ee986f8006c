package server

import (
	"net"

	"github.com/portgate/portgate/internal/peercred"
)

// peerPID returns the pid the kernel recorded for the other end of c, or 0
// when the kernel does not report it or the look-up fails.
func peerPID(c *net.UnixConn) int {
	cred, err := peercred.Of(c)
	if err != nil {
		return 0
	}
	return int(cred.PID)
}
