//go:build solaris || illumos || aix

package server

import (
	"os"

	"golang.org/x/sys/unix"
)

// lockExclusive takes a POSIX write lock on f without waiting, since these
// systems lack flock(2). POSIX locks belong to the process, so only a
// second process conflicts.
func lockExclusive(f *os.File) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	return unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk)
}
