package helper

import "golang.org/x/sys/unix"

// peerCredCall names the call behind readPeer, for error messages.
const peerCredCall = "getpeerucred"

// readPeer returns the effective uid and gid and the pid of the peer of
// socket fd, as getpeerucred(3C) reports them.
func readPeer(fd int) (Peer, error) {
	cred, err := unix.GetPeerUcred(uintptr(fd))
	if err != nil {
		return Peer{}, err
	}
	return Peer{UID: uint32(cred.Geteuid()), GID: uint32(cred.Getegid()), PID: int32(cred.Getpid())}, nil
}
