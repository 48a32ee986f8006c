//go:build !linux && !darwin && !freebsd && !solaris && !aix

package helper

import (
	"fmt"
	"net"
	"runtime"
)

// PeerOf is not implemented on this OS yet.
func PeerOf(c *net.UnixConn) (Peer, error) {
	return Peer{}, fmt.Errorf("peer credentials are not supported on %s yet", runtime.GOOS)
}
