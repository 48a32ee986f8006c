//go:build darwin || aix

package helper

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// socketCloexec opens a socket and marks it close-on-exec while holding
// ForkLock, so no concurrent fork of this process can inherit it.
func socketCloexec(domain, typ int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fd, err := unix.Socket(domain, typ, 0)
	if err != nil {
		return -1, err
	}
	unix.CloseOnExec(fd)
	return fd, nil
}
