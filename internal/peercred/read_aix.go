package peercred

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// call names the kernel interface behind read, for error messages.
const call = "getsockopt SO_PEERID"

// golang.org/x/sys/unix wraps getsockopt on AIX only for fixed option
// types, and its wrappers drop the length the kernel returns, so none of
// them can carry struct peercred_struct. This package calls getsockopt in
// libc itself, the way the Go runtime calls libc on AIX: the linker
// imports the function from the 64-bit member of libc.a, and the
// runtime's syscall6 calls it.

//go:cgo_import_dynamic libc_portgate_getsockopt getsockopt "libc.a/shr_64.o"
//go:linkname libcGetsockopt libc_portgate_getsockopt
var libcGetsockopt uintptr

// libcCall6 calls the libc function whose import slot is at fn with the
// first nargs of a1 to a6. It returns the function's result and errno.
//
//go:linkname libcCall6 syscall.syscall6
func libcCall6(fn, nargs, a1, a2, a3, a4, a5, a6 uintptr) (r1, r2 uintptr, err syscall.Errno)

// read returns the effective uid and gid and the pid of the peer of
// socket fd, as getsockopt(SOL_SOCKET, SO_PEERID) reports them.
//
// TODO: this SO_PEERID path is cross-compiled and linked for aix/ppc64 only, never run on AIX.
func read(fd int) (Cred, error) {
	var buf [peerIDSize]byte
	size := uint32(len(buf))
	r1, _, errno := libcCall6(uintptr(unsafe.Pointer(&libcGetsockopt)), 5,
		uintptr(fd), unix.SOL_SOCKET, unix.SO_PEERID,
		uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&size)), 0)
	if int32(r1) == -1 {
		return Cred{}, errno
	}
	if size > uint32(len(buf)) {
		size = uint32(len(buf))
	}
	return decodePeerID(buf[:size])
}
