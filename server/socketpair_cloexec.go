//go:build !darwin && !aix

package server

import "golang.org/x/sys/unix"

// socketpair returns a Unix stream socketpair, close-on-exec from the start.
func socketpair() ([2]int, error) {
	return unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
}
