package helper

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/portgate/portgate/protocol"
)

// defaultBacklog is the listen backlog used when a request leaves it at 0;
// the kernel lowers it to its own maximum (net.core.somaxconn on Linux).
const defaultBacklog = 4096

// maxBacklog bounds the backlog a client may ask for.
const maxBacklog = 65535

// target is a validated BindSpec resolved to the exact address the helper
// checks against its policy and then binds.
type target struct {
	spec   protocol.BindSpec
	addr   netip.Addr // concrete: the wildcard is resolved to 0.0.0.0 or ::
	port   uint16
	domain int
	v6only bool
}

// resolve validates spec and picks the address family. A wildcard on "tcp"
// or "udp" becomes a dual-stack [::] where the host has IPv6, as Go's net
// package does, and 0.0.0.0 otherwise.
func resolve(spec protocol.BindSpec) (target, error) {
	if err := spec.Validate(); err != nil {
		return target{}, err
	}
	if spec.Backlog > maxBacklog {
		return target{}, fmt.Errorf("backlog %d exceeds %d", spec.Backlog, maxBacklog)
	}
	t := target{spec: spec, port: uint16(spec.Port), v6only: spec.Flags&protocol.V6Only != 0}
	a, _ := spec.Addr()
	switch {
	case a.IsValid():
		t.addr = a
	case spec.Network == protocol.TCP4 || spec.Network == protocol.UDP4:
		t.addr = netip.IPv4Unspecified()
	case spec.Network == protocol.TCP6 || spec.Network == protocol.UDP6 || hostHasIPv6():
		t.addr = netip.IPv6Unspecified()
	default:
		t.addr = netip.IPv4Unspecified()
	}
	if t.addr.Is4() || t.addr.Is4In6() && (spec.Network == protocol.TCP4 || spec.Network == protocol.UDP4) {
		t.addr = t.addr.Unmap()
		t.domain = unix.AF_INET
		t.v6only = false
	} else {
		t.domain = unix.AF_INET6
	}
	return t, nil
}

func hostHasIPv6() bool {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM, 0)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

func (t *target) String() string {
	return t.spec.Network.String() + " " + netip.AddrPortFrom(t.addr, t.port).String()
}

func (t *target) sockaddr() (unix.Sockaddr, error) {
	if t.domain == unix.AF_INET {
		return &unix.SockaddrInet4{Port: int(t.port), Addr: t.addr.As4()}, nil
	}
	sa := &unix.SockaddrInet6{Port: int(t.port), Addr: t.addr.As16()}
	if zone := t.addr.Zone(); zone != "" {
		idx, err := zoneIndex(zone)
		if err != nil {
			return nil, err
		}
		sa.ZoneId = idx
	}
	return sa, nil
}

func zoneIndex(zone string) (uint32, error) {
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n), nil
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, fmt.Errorf("zone %q names no interface of this host: %w", zone, err)
	}
	return uint32(ifi.Index), nil
}

// bindError is a failed bind with the protocol code it maps to.
type bindError struct {
	code protocol.Code
	err  error
}

func (e *bindError) Error() string { return e.err.Error() }
func (e *bindError) Unwrap() error { return e.err }

// bind creates, configures, binds and (for TCP) listens on a socket for t.
// The returned descriptor is close-on-exec and owned by the caller.
func bind(t *target) (int, error) {
	typ := unix.SOCK_STREAM
	if !t.spec.Network.Stream() {
		typ = unix.SOCK_DGRAM
	}
	sa, err := t.sockaddr()
	if err != nil {
		return -1, &bindError{protocol.CodeInvalid, err}
	}
	fd, err := socketCloexec(t.domain, typ)
	if err != nil {
		return -1, &bindError{protocol.CodeBindFailed, fmt.Errorf("socket: %w", err)}
	}
	if err := configure(fd, t); err != nil {
		unix.Close(fd)
		return -1, &bindError{protocol.CodeBindFailed, err}
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, &bindError{bindCode(err), fmt.Errorf("bind %s: %w", t, err)}
	}
	if typ == unix.SOCK_STREAM {
		backlog := int(t.spec.Backlog)
		if backlog == 0 {
			backlog = defaultBacklog
		}
		if err := unix.Listen(fd, backlog); err != nil {
			unix.Close(fd)
			return -1, &bindError{protocol.CodeBindFailed, fmt.Errorf("listen %s: %w", t, err)}
		}
	}
	return fd, nil
}

func configure(fd int, t *target) error {
	if t.spec.Flags&protocol.ReuseAddr != 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return fmt.Errorf("set SO_REUSEADDR: %w", err)
		}
	}
	if t.spec.Flags&protocol.ReusePort != 0 {
		if err := setReusePort(fd); err != nil {
			return err
		}
	}
	if t.domain == unix.AF_INET6 {
		v := 0
		if t.v6only {
			v = 1
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v); err != nil {
			return fmt.Errorf("set IPV6_V6ONLY: %w", err)
		}
	}
	return nil
}

func bindCode(err error) protocol.Code {
	switch {
	case errors.Is(err, unix.EADDRINUSE):
		return protocol.CodeAddrInUse
	case errors.Is(err, unix.EADDRNOTAVAIL):
		return protocol.CodeAddrNotAvail
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return protocol.CodeNoPrivilege
	}
	return protocol.CodeBindFailed
}
