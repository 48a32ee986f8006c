//go:build darwin || freebsd

package helper

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// peerCredCall names the call behind readPeer, for error messages.
const peerCredCall = "LOCAL_PEERCRED"

// readPeer reads the credentials of the peer of socket fd with
// LOCAL_PEERCRED, the socket option behind getpeereid: its effective uid,
// its primary gid and, where the kernel records it, its pid.
func readPeer(fd int) (Peer, error) {
	cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return Peer{}, err
	}
	peer, err := peerFromXucred(cred)
	if err != nil {
		return Peer{}, err
	}
	peer.PID = peerPID(fd, cred)
	return peer, nil
}

// xucredVersion is XUCRED_VERSION of sys/ucred.h, the same on macOS and
// FreeBSD.
const xucredVersion = 0

// peerFromXucred takes the uid and the primary gid, which the kernel
// stores as the first group, from cred.
func peerFromXucred(cred *unix.Xucred) (Peer, error) {
	if cred.Version != xucredVersion {
		return Peer{}, fmt.Errorf("xucred version %d, want %d", cred.Version, xucredVersion)
	}
	if cred.Ngroups < 1 {
		return Peer{}, fmt.Errorf("xucred of uid %d lists no group", cred.Uid)
	}
	return Peer{UID: cred.Uid, GID: cred.Groups[0]}, nil
}
