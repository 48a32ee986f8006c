package peercred

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
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
	groups, err := peerGroups(fd)
	if err != nil {
		return Cred{}, err
	}
	cred.Groups = withoutGID(groups, unmappedGID)
	return cred, nil
}

// unmappedGID is the gid that the kernel reports for every group that has
// no mapping in this process's user namespace, or noID in the initial
// namespace, where every group has one. It is read when the package loads,
// before the helper confines itself.
var unmappedGID = readUnmappedGID()

func readUnmappedGID() uint32 {
	if m, err := os.ReadFile("/proc/self/gid_map"); err == nil && strings.Join(strings.Fields(string(m)), " ") == "0 0 4294967295" {
		return noID
	}
	if b, err := os.ReadFile("/proc/sys/kernel/overflowgid"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32); err == nil {
			return uint32(n)
		}
	}
	return 65534
}

// withoutGID returns groups without gid. Inside a user namespace, the
// overflow gid stands for any group without a mapping, so a rule for that
// gid must not match it.
func withoutGID(groups []uint32, gid uint32) []uint32 {
	others := groups[:0]
	for _, g := range groups {
		if g != gid {
			others = append(others, g)
		}
	}
	return others
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
