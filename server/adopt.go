package server

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// SocketKind is what the kernel reports about a descriptor.
type SocketKind struct {
	Type      int // unix.SOCK_STREAM or unix.SOCK_DGRAM
	Family    int // unix.AF_INET, unix.AF_INET6 or unix.AF_UNIX
	Listening bool
}

// classify asks the kernel what fd is. It fails for anything but a socket.
func classify(fd int) (SocketKind, error) {
	var k SocketKind
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if errors.Is(err, unix.EBADF) {
		return k, fmt.Errorf("descriptor %d is not open: it was promised but not passed", fd)
	}
	if err != nil {
		return k, fmt.Errorf("descriptor %d is not a socket: %w", fd, err)
	}
	k.Type = typ
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return k, fmt.Errorf("descriptor %d: getsockname: %w", fd, err)
	}
	switch sa.(type) {
	case *unix.SockaddrInet4:
		k.Family = unix.AF_INET
	case *unix.SockaddrInet6:
		k.Family = unix.AF_INET6
	case *unix.SockaddrUnix:
		k.Family = unix.AF_UNIX
	default:
		return k, fmt.Errorf("descriptor %d has an unknown address family", fd)
	}
	if typ == unix.SOCK_STREAM {
		k.Listening, err = isListening(fd)
		if err != nil {
			return k, fmt.Errorf("descriptor %d: %w", fd, err)
		}
	}
	return k, nil
}

// networkFamily returns the address family a network name requires, or 0
// for "tcp" and "udp", which take either.
func networkFamily(network string) int {
	switch network {
	case "tcp4", "udp4":
		return unix.AF_INET
	case "tcp6", "udp6":
		return unix.AF_INET6
	}
	return 0
}

// adoptFile checks that f is a listening TCP socket or a bound UDP socket
// of the family that s.Endpoint asks for and wraps it into s. adoptFile
// takes f: it closes f whatever happens, and on success s owns the one
// duplicate that Go's net package made.
func adoptFile(f *os.File, s *Socket) error {
	defer f.Close()
	k, err := classify(int(f.Fd()))
	if err != nil {
		return err
	}
	if k.Family != unix.AF_INET && k.Family != unix.AF_INET6 {
		return fmt.Errorf("descriptor %d is not an IP socket", f.Fd())
	}
	if want := networkFamily(s.Endpoint.Network); want != 0 && k.Family != want {
		return fmt.Errorf("descriptor %d has address family %d, but %s needs %d", f.Fd(), k.Family, s.Endpoint.Network, want)
	}
	if isStream(s.Endpoint.Network) {
		if k.Type != unix.SOCK_STREAM || !k.Listening {
			return fmt.Errorf("descriptor %d is not a listening TCP socket (type %d, listening %t)", f.Fd(), k.Type, k.Listening)
		}
		s.Listener, err = net.FileListener(f)
		return err
	}
	if k.Type != unix.SOCK_DGRAM {
		return fmt.Errorf("descriptor %d is not a UDP socket (type %d)", f.Fd(), k.Type)
	}
	s.PacketConn, err = net.FilePacketConn(f)
	return err
}
