package protocol

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Network is the wire value of a socket network.
type Network uint8

// Networks, with the names Go's net package uses for them.
const (
	TCP  Network = 1
	TCP4 Network = 2
	TCP6 Network = 3
	UDP  Network = 4
	UDP4 Network = 5
	UDP6 Network = 6
)

var networkNames = [...]string{TCP: "tcp", TCP4: "tcp4", TCP6: "tcp6", UDP: "udp", UDP4: "udp4", UDP6: "udp6"}

// ParseNetwork returns the Network named by a Go network name.
func ParseNetwork(name string) (Network, error) {
	for n, s := range networkNames {
		if s != "" && s == name {
			return Network(n), nil
		}
	}
	return 0, fmt.Errorf("unknown network %q: use tcp, tcp4, tcp6, udp, udp4 or udp6", name)
}

func (n Network) String() string {
	if int(n) < len(networkNames) && networkNames[n] != "" {
		return networkNames[n]
	}
	return fmt.Sprintf("network(%d)", uint8(n))
}

// Valid reports whether n is a known network.
func (n Network) Valid() bool { return n >= TCP && n <= UDP6 }

// Stream reports whether n is a TCP network.
func (n Network) Stream() bool { return n >= TCP && n <= TCP6 }

// Transport returns "tcp" or "udp".
func (n Network) Transport() string {
	if n.Stream() {
		return "tcp"
	}
	return "udp"
}

// Flags are socket options set before bind.
type Flags uint8

// Flag bits.
const (
	ReuseAddr Flags = 1 << 0
	ReusePort Flags = 1 << 1
	V6Only    Flags = 1 << 2
	allFlags        = ReuseAddr | ReusePort | V6Only
)

// BindSpec names one socket to bind.
type BindSpec struct {
	Network Network
	Flags   Flags
	// Port is wider than a port number on the wire so that a receiver can
	// tell an out-of-range value from a wrapped one.
	Port    uint32
	Backlog uint32
	// Address is an IP literal, optionally with a zone, or "" for the
	// wildcard address.
	Address string
}

// Addr parses the spec's address. An empty address yields the zero Addr,
// which stands for the wildcard address of the network.
func (s *BindSpec) Addr() (netip.Addr, error) {
	if s.Address == "" {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(s.Address)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("invalid address %q: want an IP literal such as 127.0.0.1, ::1 or fe80::1%%eth0", s.Address)
	}
	return a, nil
}

// Validate checks the spec as a whole: a known network, known flags, a port
// in 1..65535, a parsable address of a family that fits the network, and a
// zone on every link-local IPv6 address. The helper binds exactly the
// address and port it validated.
func (s *BindSpec) Validate() error {
	if !s.Network.Valid() {
		return fmt.Errorf("unknown network %d", uint8(s.Network))
	}
	if s.Flags&^allFlags != 0 {
		return fmt.Errorf("unknown flag bits %#x", uint8(s.Flags&^allFlags))
	}
	if s.Port < 1 || s.Port > 65535 {
		return fmt.Errorf("port %d out of range 1-65535", s.Port)
	}
	a, err := s.Addr()
	if err != nil || !a.IsValid() {
		return err
	}
	switch s.Network {
	case TCP4, UDP4:
		if !a.Unmap().Is4() {
			return fmt.Errorf("address %s is not IPv4 but network is %s", s.Address, s.Network)
		}
	case TCP6, UDP6:
		if a.Is4() {
			return fmt.Errorf("address %s is IPv4 but network is %s", s.Address, s.Network)
		}
	}
	if a.Is6() && !a.Is4In6() && (a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast()) && a.Zone() == "" {
		return fmt.Errorf("link-local address %s needs a zone naming its interface, such as %s%%eth0", s.Address, s.Address)
	}
	if a.Zone() != "" && !(a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast()) {
		return fmt.Errorf("address %s has a zone but is not link-local", s.Address)
	}
	return nil
}

// String formats the spec the way logs and errors show it: tcp [::1]:80.
func (s *BindSpec) String() string {
	host := s.Address
	if host == "" {
		host = "*"
	}
	return s.Network.String() + " " + joinHostPort(host, s.Port)
}

func joinHostPort(host string, port uint32) string {
	for i := 0; i < len(host); i++ {
		if host[i] == ':' {
			return fmt.Sprintf("[%s]:%d", host, port)
		}
	}
	return fmt.Sprintf("%s:%d", host, port)
}

func (s *BindSpec) appendTo(b []byte) []byte {
	b = append(b, byte(s.Network), byte(s.Flags))
	b = binary.BigEndian.AppendUint32(b, s.Port)
	b = binary.BigEndian.AppendUint32(b, s.Backlog)
	b = append(b, byte(len(s.Address)))
	return append(b, s.Address...)
}
