package peercred

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// peerPID returns the pid FreeBSD 13 and later store in the last field of
// struct xucred (cr_pid, in a union that golang.org/x/sys/unix leaves
// unnamed). Older kernels leave it 0.
func peerPID(_ int, cred *unix.Xucred) int32 {
	last := unsafe.Add(unsafe.Pointer(cred), unsafe.Sizeof(*cred)-unsafe.Sizeof(uintptr(0)))
	return *(*int32)(last)
}
