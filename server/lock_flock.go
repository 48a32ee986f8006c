//go:build !solaris && !illumos && !aix

package server

import (
	"os"

	"golang.org/x/sys/unix"
)

// lockExclusive takes flock(2)'s exclusive lock on f without waiting. The
// lock belongs to the open file, so a second open in the same process
// conflicts too.
func lockExclusive(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
}
