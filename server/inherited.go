package server

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/portgate/portgate/protocol"
)

// Inherited is the one registry of the sockets that the process inherited
// in the socket activation convention. It owns each socket until a service
// takes it; a taken socket belongs to that service alone, and nothing can
// take it a second time. Release closes the sockets no service took. An
// Inherited is safe for concurrent use, and a nil *Inherited holds nothing.
type Inherited struct {
	mu      sync.Mutex
	entries []*inheritedSocket
	closed  bool
}

// inheritedSocket is one adopted descriptor.
type inheritedSocket struct {
	fd    int    // the number it was passed at, for messages
	name  string // from LISTEN_FDNAMES, or ""
	sock  Socket // the listener or packet conn that owns a duplicate
	taken bool
}

// Adopt reads the socket activation variables, removes them from the
// environment, and, when LISTEN_PID is this process, adopts every
// descriptor from 3 on that LISTEN_FDS declares. Each descriptor is
// checked with the kernel first. A listening TCP socket or a bound UDP
// socket is adopted. Another socket (connected, not listening, or of
// another family or type) is rejected and closed. Anything that is not a
// socket, or not open, is rejected and left untouched, because it may be a
// descriptor of this process rather than one the parent passed. Rejections
// are logged and returned as errors, one per descriptor. The valid
// sockets are kept whatever the others are.
//
// When LISTEN_PID is unset or names another process, Adopt touches no
// descriptor and returns an empty registry.
func Adopt(log zerolog.Logger) (*Inherited, []error) {
	in := &Inherited{}
	env, ours, err := takeListenEnv()
	if err != nil {
		log.Error().Err(err).Msg("socket activation variables invalid")
		return in, []error{err}
	}
	if !ours {
		if env.PID != 0 {
			log.Info().Int("listen_pid", env.PID).Msg("LISTEN_PID names another process: no socket inherited")
		}
		return in, nil
	}
	if len(env.Names) > 0 && len(env.Names) != env.Count {
		// Names are only hints, because sockets are matched by address as
		// well, so a mismatch is reported and the names that exist are
		// used in order.
		log.Warn().Int("listen_fds", env.Count).Int("names", len(env.Names)).Msg("LISTEN_FDNAMES has a different number of names than LISTEN_FDS: names are used in order, and sockets are matched by address as well")
	}
	// Every descriptor is classified before any is wrapped: wrapping
	// duplicates a descriptor to the lowest free number, which may be one
	// of the range that was promised but not passed.
	kinds := make([]SocketKind, env.Count)
	kindErrs := make([]error, env.Count)
	for i := range kinds {
		kinds[i], kindErrs[i] = classify(listenFDsStart + i)
	}
	var errs []error
	for i := 0; i < env.Count; i++ {
		fd := listenFDsStart + i
		e, err := adoptFD(fd, env.name(i), kinds[i], kindErrs[i])
		if err != nil {
			log.Error().Err(err).Int("fd", fd).Str("fd_name", env.name(i)).Msg("inherited descriptor rejected")
			errs = append(errs, err)
			continue
		}
		log.Info().Int("fd", fd).Str("fd_name", e.name).Str("network", e.sock.Endpoint.Network).Str("address", e.sock.LocalAddr().String()).Msg("inherited socket adopted")
		in.entries = append(in.entries, e)
	}
	return in, errs
}

// adoptFD wraps descriptor fd, which classify found to be k or failed
// with err. On success the original number is closed and the wrapper owns
// a close-on-exec duplicate.
func adoptFD(fd int, name string, k SocketKind, err error) (*inheritedSocket, error) {
	if err != nil {
		// Not a socket, or not open: leave it alone.
		return nil, fmt.Errorf("inherited descriptor %d: %w", fd, err)
	}
	f := os.NewFile(uintptr(fd), "inherited-"+name)
	network, err := inheritedNetwork(k)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("inherited descriptor %d rejected and closed: %w", fd, err)
	}
	e := &inheritedSocket{fd: fd, name: name, sock: Socket{Endpoint: Endpoint{Network: network}}}
	// adoptFile closes f, so the original number is closed here.
	if err := adoptFile(f, &e.sock); err != nil {
		return nil, fmt.Errorf("inherited descriptor %d rejected and closed: %w", fd, err)
	}
	e.sock.Endpoint.Address = e.sock.LocalAddr().String()
	return e, nil
}

// inheritedNetwork names the network of a socket the server can serve.
func inheritedNetwork(k SocketKind) (string, error) {
	var base string
	switch {
	case k.Type == unix.SOCK_STREAM && k.Listening:
		base = "tcp"
	case k.Type == unix.SOCK_STREAM:
		return "", fmt.Errorf("a stream socket that is not listening (a connected or only bound socket)")
	case k.Type == unix.SOCK_DGRAM:
		base = "udp"
	default:
		return "", fmt.Errorf("socket type %d is neither stream nor datagram", k.Type)
	}
	switch k.Family {
	case unix.AF_INET:
		return base + "4", nil
	case unix.AF_INET6:
		return base + "6", nil
	}
	return "", fmt.Errorf("address family %d is not IPv4 or IPv6 (a Unix socket?)", k.Family)
}

// take hands the service the inherited socket for endpoint e: first one
// named after the service whose address fits e, then any whose real local
// address equals e's. It returns false when none fits.
func (in *Inherited) take(ctx context.Context, service string, e Endpoint) (Socket, bool) {
	if in == nil {
		return Socket{}, false
	}
	spec, err := e.bindSpec(ctx)
	if err != nil {
		return Socket{}, false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return Socket{}, false
	}
	for _, byName := range []bool{true, false} {
		for _, ent := range in.entries {
			if ent.taken || byName && ent.name != service {
				continue
			}
			if fits(ent.sock.LocalAddr(), spec, byName) {
				ent.taken = true
				s := ent.sock
				s.Endpoint = e
				return s, true
			}
		}
	}
	return Socket{}, false
}

// giveBack returns a socket that take handed out, after the service that
// took it failed to start.
func (in *Inherited) giveBack(service string, s Socket) {
	if in == nil {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, ent := range in.entries {
		if ent.taken && ent.sock.Listener == s.Listener && ent.sock.PacketConn == s.PacketConn {
			ent.taken = false
			if in.closed {
				ent.sock.Close()
			}
			return
		}
	}
}

// Release closes every inherited socket that no service took, so that its
// port refuses connections and can be bound again, and makes later takes
// find nothing.
func (in *Inherited) Release(log zerolog.Logger) {
	if in == nil {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.closed = true
	for _, ent := range in.entries {
		if !ent.taken {
			ent.sock.Close()
			ent.taken = true
			log.Warn().Int("fd", ent.fd).Str("fd_name", ent.name).Str("address", ent.sock.LocalAddr().String()).Msg("inherited socket matches no service: closed")
		}
	}
}

// fits reports whether a socket bound at addr serves the request spec.
// Matched by name, an endpoint of port 0 takes any port; matched by
// address, the addresses must be equal and the port given.
func fits(addr net.Addr, spec protocol.BindSpec, byName bool) bool {
	var ip net.IP
	var port int
	switch a := addr.(type) {
	case *net.TCPAddr:
		if !spec.Network.Stream() {
			return false
		}
		ip, port = a.IP, a.Port
	case *net.UDPAddr:
		if spec.Network.Stream() {
			return false
		}
		ip, port = a.IP, a.Port
	default:
		return false
	}
	if spec.Port == 0 && !byName || spec.Port != 0 && uint32(port) != spec.Port {
		return false
	}
	got, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	got = got.Unmap()
	if spec.Address == "" {
		return got.IsUnspecified() && familyFits(got, spec.Network)
	}
	want, err := netip.ParseAddr(spec.Address)
	return err == nil && want.WithZone("") == got && familyFits(got, spec.Network)
}

func familyFits(a netip.Addr, n protocol.Network) bool {
	switch n {
	case protocol.TCP4, protocol.UDP4:
		return a.Is4()
	case protocol.TCP6, protocol.UDP6:
		return a.Is6()
	}
	return true
}
