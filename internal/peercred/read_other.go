//go:build !linux && !darwin && !freebsd && !solaris && !aix

package peercred

import (
	"fmt"
	"runtime"
)

// call names the kernel interface behind read, for error messages.
const call = "unsupported OS"

// read fails: portgate reads no peer credentials on this OS yet.
//
// NOTE: OpenBSD (SO_PEERCRED) and NetBSD (LOCAL_PEEREID) have such an
// interface, but golang.org/x/sys/unix v0.50.0 wraps neither, so on these systems
// the helper daemon and the Local Manager reject every client.
func read(int) (Cred, error) {
	return Cred{}, fmt.Errorf("portgate reads no peer credentials on %s yet, so it rejects every client", runtime.GOOS)
}
