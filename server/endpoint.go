package server

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/portgate/portgate/protocol"
)

// Endpoint is one socket to acquire: a Go network name and a host:port
// address, as net.Listen takes them.
type Endpoint struct {
	Network string
	Address string
}

func (e Endpoint) String() string { return e.Network + "://" + e.Address }

// ParseEndpoint parses a listen URL such as tcp://:80, udp://127.0.0.1:53
// or tcp6://[::1]:443.
func ParseEndpoint(s string) (Endpoint, error) {
	scheme, addr, ok := strings.Cut(s, "://")
	if !ok {
		return Endpoint{}, fmt.Errorf("listen address %q: want NETWORK://HOST:PORT, such as tcp://:80", s)
	}
	if _, err := protocol.ParseNetwork(scheme); err != nil {
		return Endpoint{}, fmt.Errorf("listen address %q: %w", s, err)
	}
	if _, _, err := splitPort(addr); err != nil {
		return Endpoint{}, fmt.Errorf("listen address %q: %w", s, err)
	}
	return Endpoint{Network: scheme, Address: addr}, nil
}

func splitPort(address string) (string, uint16, error) {
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("port %q is not a number between 0 and 65535", portText)
	}
	return host, uint16(port), nil
}

// bindSpec turns e into the request the helper takes, with the socket
// options Go's net package would set: SO_REUSEADDR on TCP listeners, and
// IPV6_V6ONLY on a wildcard tcp6 or udp6 socket. A host name is resolved
// here, on the unprivileged side, to its first address of a fitting family.
func (e Endpoint) bindSpec(ctx context.Context) (protocol.BindSpec, error) {
	network, err := protocol.ParseNetwork(e.Network)
	if err != nil {
		return protocol.BindSpec{}, err
	}
	host, port, err := splitPort(e.Address)
	if err != nil {
		return protocol.BindSpec{}, err
	}
	spec := protocol.BindSpec{Network: network, Port: uint32(port)}
	if network.Stream() {
		spec.Flags |= protocol.ReuseAddr
	}
	if host != "" {
		a, err := resolveHost(ctx, network, host)
		if err != nil {
			return protocol.BindSpec{}, err
		}
		spec.Address = a.String()
	}
	if (network == protocol.TCP6 || network == protocol.UDP6) && (spec.Address == "" || spec.Address == "::") {
		spec.Flags |= protocol.V6Only
	}
	return spec, nil
}

func resolveHost(ctx context.Context, network protocol.Network, host string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a, nil
	}
	family := "ip"
	switch network {
	case protocol.TCP4, protocol.UDP4:
		family = "ip4"
	case protocol.TCP6, protocol.UDP6:
		family = "ip6"
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, family, host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("resolve %q: %w", host, err)
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("resolve %q: no %s address", host, family)
	}
	return addrs[0].Unmap(), nil
}
