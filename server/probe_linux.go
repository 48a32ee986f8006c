package server

import (
	"errors"
	"net/netip"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/portgate/portgate/protocol"
)

// probeBind returns EACCES or EPERM when the kernel refuses this process a
// bind of spec's port, and nil otherwise, including for every other error,
// which the real bind then reports. A denied net.Listen costs several
// system calls on Linux (Go tries MPTCP before TCP), while the probe is
// one socket, one bind and one close. Only ports below 1024 can be refused this way
// by default, so other ports are not probed.
func probeBind(spec protocol.BindSpec) error {
	if spec.Port == 0 || spec.Port >= 1024 || strings.Contains(spec.Address, "%") {
		return nil
	}
	family, sa := unix.AF_INET, unix.Sockaddr(&unix.SockaddrInet4{Port: int(spec.Port)})
	if a, err := netip.ParseAddr(spec.Address); err == nil {
		if a.Is4() || a.Is4In6() {
			sa = &unix.SockaddrInet4{Port: int(spec.Port), Addr: a.Unmap().As4()}
		} else {
			family, sa = unix.AF_INET6, &unix.SockaddrInet6{Port: int(spec.Port), Addr: a.As16()}
		}
	}
	typ := unix.SOCK_DGRAM
	if spec.Network.Stream() {
		typ = unix.SOCK_STREAM
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	err = unix.Bind(fd, sa)
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
		return err
	}
	return nil
}
