package peercred

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// call names the kernel interface behind read, for error messages.
const call = "SO_PEERCRED"

// read returns the effective uid and gid and the pid of the peer of
// socket fd, as getsockopt(SOL_SOCKET, SO_PEERCRED) reports them, and its
// groups from SO_PEERGROUPS. A peer in another pid namespace has pid 0.
func read(fd int) (Cred, error) {
	ucred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return Cred{}, err
	}
	cred := Cred{UID: ucred.Uid, GID: ucred.Gid, PID: ucred.Pid}
	cred.Groups, err = peerGroups(fd)
	if err != nil {
		return Cred{}, err
	}
	return cred, nil
}

// peerGroups returns the groups of the peer of socket fd from
// getsockopt(SOL_SOCKET, SO_PEERGROUPS), or nil on a kernel older than
// 4.13, which does not have the option.
func peerGroups(fd int) ([]uint32, error) {
	groups := make([]uint32, 32)
	// A peer in more groups makes the kernel fail with ERANGE and store
	// the size it needs, so a second call with that size gets them all.
	for range 2 {
		size := uint32(len(groups) * 4)
		_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_PEERGROUPS,
			uintptr(unsafe.Pointer(&groups[0])), uintptr(unsafe.Pointer(&size)), 0)
		switch {
		case errno == 0:
			return groups[:size/4], nil
		case errno == unix.ENOPROTOOPT:
			return nil, nil
		case errno == unix.ERANGE && size/4 > uint32(len(groups)):
			groups = make([]uint32, size/4)
		default:
			return nil, fmt.Errorf("SO_PEERGROUPS: %w", errno)
		}
	}
	return nil, errors.New("SO_PEERGROUPS: the kernel requested a larger buffer twice")
}
