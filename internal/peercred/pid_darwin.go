package peercred

import "golang.org/x/sys/unix"

// peerPID returns the pid of the peer of socket fd (LOCAL_PEERPID), or 0
// when the kernel does not report it.
func peerPID(fd int, _ *unix.Xucred) int32 {
	pid, err := unix.GetsockoptInt(fd, unix.SOL_LOCAL, unix.LOCAL_PEERPID)
	if err != nil {
		return 0
	}
	return int32(pid)
}
