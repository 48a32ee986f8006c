//go:build !darwin && !aix

package helper

import "golang.org/x/sys/unix"

// socketCloexec opens a socket that is close-on-exec from the start.
func socketCloexec(domain, typ int) (int, error) {
	return unix.Socket(domain, typ|unix.SOCK_CLOEXEC, 0)
}
