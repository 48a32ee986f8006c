//go:build darwin || freebsd || solaris || aix

package helper

import (
	"fmt"
	"net"
)

// PeerOf returns the credentials the kernel recorded for the other end of
// c: for a socketpair, the process that created it; for an accepted
// connection, the process that called connect.
func PeerOf(c *net.UnixConn) (Peer, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return Peer{}, fmt.Errorf("peer credentials: %w", err)
	}
	var peer Peer
	var rerr error
	if err := raw.Control(func(fd uintptr) { peer, rerr = readPeer(int(fd)) }); err != nil {
		return Peer{}, fmt.Errorf("peer credentials: %w", err)
	}
	if rerr != nil {
		return Peer{}, fmt.Errorf("peer credentials (%s): %w", peerCredCall, rerr)
	}
	return peer, nil
}
