package peercred

import "golang.org/x/sys/unix"

// call names the kernel interface behind read, for error messages.
const call = "SO_PEERCRED"

// read returns the effective uid and gid and the pid of the peer of
// socket fd, as getsockopt(SOL_SOCKET, SO_PEERCRED) reports them. A peer
// in another pid namespace has pid 0.
func read(fd int) (Cred, error) {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return Cred{}, err
	}
	return Cred{UID: cred.Uid, GID: cred.Gid, PID: cred.Pid}, nil
}
