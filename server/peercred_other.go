//go:build !linux

package server

import (
	"errors"
	"net"
)

// peerCred fails outside Linux, so the Local Manager rejects every peer.
// TODO: use getpeereid on the BSDs and macOS, getpeerucred on Solaris.
func peerCred(*net.UnixConn) (PeerCred, error) {
	return PeerCred{}, errors.New("peer credentials are not supported on this OS yet, so the Local Manager rejects every client")
}
