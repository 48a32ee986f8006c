package helper

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// PeerOf returns the credentials the kernel recorded for the other end of
// c: for a socketpair, the process that created it; for an accepted
// connection, the process that called connect.
func PeerOf(c *net.UnixConn) (Peer, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return Peer{}, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var gerr error
	if err := raw.Control(func(fd uintptr) {
		cred, gerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Peer{}, fmt.Errorf("peer credentials: %w", err)
	}
	if gerr != nil {
		return Peer{}, fmt.Errorf("peer credentials (SO_PEERCRED): %w", gerr)
	}
	return Peer{UID: cred.Uid, GID: cred.Gid, PID: cred.Pid}, nil
}
