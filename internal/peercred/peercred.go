// Package peercred reads the credentials that the kernel records for the
// peer of a Unix socket: SO_PEERCRED on Linux, LOCAL_PEERCRED on FreeBSD
// and macOS, getpeerucred on Solaris and illumos, SO_PEERID on AIX.
//
// Both sides of portgate use it: the helper checks each client against
// its policy, and the server checks each client of the Local Manager.
// It only queries the kernel and holds no privilege.
package peercred

import (
	"fmt"
	"syscall"
)

// Cred is the identity of the process at the other end of a Unix socket,
// as the kernel reports it. For a socketpair, that is the process that
// created it. For an accepted connection, it is the process that called
// connect.
type Cred struct {
	// UID and GID are the peer's effective uid and gid.
	UID, GID uint32
	// PID is the peer's pid, or 0 where the kernel does not report it.
	PID int32
	// Groups are the peer's groups when it connected, or when it created
	// a socketpair, where the kernel reports them: Linux 4.13 and later,
	// FreeBSD, macOS, Solaris and illumos. They may include GID.
	Groups []uint32
}

// MemberOf reports whether the peer's gid, or one of its groups, is in
// gids.
func (c Cred) MemberOf(gids map[uint32]bool) bool {
	if gids[c.GID] {
		return true
	}
	for _, g := range c.Groups {
		if gids[g] {
			return true
		}
	}
	return false
}

// Read returns the credentials of the peer of the Unix socket fd. The
// error names the kernel interface that failed.
func Read(fd int) (Cred, error) {
	cred, err := read(fd)
	if err != nil {
		return Cred{}, fmt.Errorf("read peer credentials of descriptor %d (%s): %w", fd, call, err)
	}
	return cred, nil
}

// Of returns the credentials of the peer of c, which must be a Unix
// socket such as a *net.UnixConn.
func Of(c syscall.Conn) (Cred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return Cred{}, fmt.Errorf("read peer credentials: %w", err)
	}
	var cred Cred
	var readErr error
	if err := raw.Control(func(fd uintptr) { cred, readErr = Read(int(fd)) }); err != nil {
		return Cred{}, fmt.Errorf("read peer credentials: %w", err)
	}
	return cred, readErr
}
