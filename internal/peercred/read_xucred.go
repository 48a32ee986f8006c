//go:build darwin || freebsd

package peercred

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// call names the kernel interface behind read, for error messages.
const call = "LOCAL_PEERCRED"

// read reads the credentials of the peer of socket fd with
// LOCAL_PEERCRED, the socket option behind getpeereid: its effective uid,
// its groups, the first of which is its effective gid, and, where the
// kernel records it, its pid.
func read(fd int) (Cred, error) {
	xucred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return Cred{}, err
	}
	cred, err := fromXucred(xucred)
	if err != nil {
		return Cred{}, err
	}
	cred.PID = peerPID(fd, xucred)
	return cred, nil
}

// xucredVersion is XUCRED_VERSION of sys/ucred.h, the same on macOS and
// FreeBSD.
const xucredVersion = 0

// fromXucred takes the uid and the groups from xucred. The kernel stores
// the effective gid as the first group.
//
// NOTE: xucred holds at most 16 groups (XU_NGROUPS), and the kernel drops
// the rest, so a peer matches only through its first 16 groups.
func fromXucred(xucred *unix.Xucred) (Cred, error) {
	if xucred.Version != xucredVersion {
		return Cred{}, fmt.Errorf("xucred version %d, want %d", xucred.Version, xucredVersion)
	}
	if xucred.Ngroups < 1 {
		return Cred{}, fmt.Errorf("xucred of uid %d lists no group", xucred.Uid)
	}
	n := min(int(xucred.Ngroups), len(xucred.Groups))
	groups := append([]uint32(nil), xucred.Groups[:n]...)
	return Cred{UID: xucred.Uid, GID: xucred.Groups[0], Groups: groups}, nil
}
