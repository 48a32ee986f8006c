package solarislibc

import (
	"errors"
	"syscall"
	_ "unsafe" // for go:linkname
)

// Sysvicall6 calls the libc function whose import slot is at fn with the
// first nargs of a1 to a6. It returns the function's result and errno.
//
//go:linkname Sysvicall6 syscall.sysvicall6
func Sysvicall6(fn, nargs, a1, a2, a3, a4, a5, a6 uintptr) (r1, r2 uintptr, err syscall.Errno)

// ErrnoOrUnknown returns errno, or an error stating that libc set none.
func ErrnoOrUnknown(errno syscall.Errno) error {
	if errno == 0 {
		return errors.New("failed without an errno")
	}
	return errno
}
