//go:build darwin || aix

package server

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// socketpair returns a Unix stream socketpair marked close-on-exec under
// ForkLock, so no concurrent fork of this process can inherit it.
func socketpair() ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return fds, err
	}
	unix.CloseOnExec(fds[0])
	unix.CloseOnExec(fds[1])
	return fds, nil
}
