package helper

import (
	"errors"
	"syscall"
	_ "unsafe" // for go:linkname
)

// The helper calls a few libc functions that golang.org/x/sys/unix does
// not wrap, the way the Go runtime and x/sys call libc on Solaris and
// illumos: a //go:cgo_import_dynamic line makes the linker import the
// function from libc.so, a //go:linkname variable holds its address, and
// the runtime's sysvicall6 calls it. Each local name starts with libc_
// because the amd64 assembler addresses only such symbols as Solaris
// dynamic imports, and the portgate_ part keeps them apart from the names
// golang.org/x/sys/unix imports.

// sysvicall6 calls the libc function whose import slot is at fn with the
// first nargs of a1 to a6. It returns the function's result and errno.
//
//go:linkname sysvicall6 syscall.sysvicall6
func sysvicall6(fn, nargs, a1, a2, a3, a4, a5, a6 uintptr) (r1, r2 uintptr, err syscall.Errno)

// errnoOrUnknown returns errno, or an error stating that libc set none.
func errnoOrUnknown(errno syscall.Errno) error {
	if errno == 0 {
		return errors.New("failed without an errno")
	}
	return errno
}
