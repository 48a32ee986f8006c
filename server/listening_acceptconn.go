//go:build linux || freebsd || netbsd || openbsd || dragonfly || darwin || solaris || illumos || aix

package server

import (
	"fmt"

	"golang.org/x/sys/unix"
)

func isListening(fd int) (bool, error) {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	if err != nil {
		return false, fmt.Errorf("getsockopt SO_ACCEPTCONN: %w", err)
	}
	return v != 0, nil
}
