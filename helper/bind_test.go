package helper

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portgate/portgate/protocol"
)

// freePort returns a port on 127.0.0.1 that was free a moment ago.
// Network is "tcp" or "udp".
func freePort(t *testing.T, network string) uint16 {
	t.Helper()
	return freePortAt(t, network, "127.0.0.1:0")
}

// freePortAt returns a port that was free a moment ago on the host of
// address, found by binding its port 0 and closing the socket. Network is
// a Go network name.
func freePortAt(t *testing.T, network, address string) uint16 {
	t.Helper()
	var addr net.Addr
	if strings.HasPrefix(network, "tcp") {
		l, err := net.Listen(network, address)
		if err != nil {
			t.Fatalf("listen on %s %s: %v", network, address, err)
		}
		addr = l.Addr()
		l.Close()
	} else {
		c, err := net.ListenPacket(network, address)
		if err != nil {
			t.Fatalf("listen on %s %s: %v", network, address, err)
		}
		addr = c.LocalAddr()
		c.Close()
	}
	return netip.MustParseAddrPort(addr.String()).Port()
}

// mustBind resolves and binds spec and closes the socket when the test ends.
func mustBind(t *testing.T, spec protocol.BindSpec) int {
	t.Helper()
	tg, err := resolve(spec)
	if err != nil {
		t.Fatalf("resolve(%s): %v", spec.String(), err)
	}
	fd, err := bind(&tg)
	if err != nil {
		t.Fatalf("bind(%s): %v", spec.String(), err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// canOpenIPv6 reports whether this host can create an IPv6 socket, which
// decides how resolve treats a wildcard on "tcp" and "udp".
func canOpenIPv6() bool {
	fd, err := socketCloexec(unix.AF_INET6, unix.SOCK_DGRAM)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// hasIPv6Loopback reports whether a socket can bind [::1].
func hasIPv6Loopback() bool {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors without /proc/self/fd: %v", err)
	}
	return len(ents)
}

func TestResolve(t *testing.T) {
	// A wildcard on "tcp" or "udp" is dual-stack [::] where the host has
	// IPv6, and 0.0.0.0 otherwise.
	dualAddr, dualDomain := "::", unix.AF_INET6
	if !canOpenIPv6() {
		dualAddr, dualDomain = "0.0.0.0", unix.AF_INET
	}

	cases := []struct {
		name   string
		spec   protocol.BindSpec
		addr   string
		domain int
		v6only bool
	}{
		{"wildcard tcp", protocol.BindSpec{Network: protocol.TCP, Port: 80}, dualAddr, dualDomain, false},
		{"wildcard udp", protocol.BindSpec{Network: protocol.UDP, Port: 53}, dualAddr, dualDomain, false},
		{"wildcard tcp4", protocol.BindSpec{Network: protocol.TCP4, Port: 80}, "0.0.0.0", unix.AF_INET, false},
		{"wildcard udp4", protocol.BindSpec{Network: protocol.UDP4, Port: 53}, "0.0.0.0", unix.AF_INET, false},
		{"wildcard tcp6", protocol.BindSpec{Network: protocol.TCP6, Port: 80}, "::", unix.AF_INET6, false},
		{"wildcard udp6", protocol.BindSpec{Network: protocol.UDP6, Port: 53}, "::", unix.AF_INET6, false},
		{"wildcard tcp6 v6only", protocol.BindSpec{Network: protocol.TCP6, Flags: protocol.V6Only, Port: 80}, "::", unix.AF_INET6, true},
		{"wildcard udp6 v6only", protocol.BindSpec{Network: protocol.UDP6, Flags: protocol.V6Only, Port: 53}, "::", unix.AF_INET6, true},
		{"v6only ignored on tcp4", protocol.BindSpec{Network: protocol.TCP4, Flags: protocol.V6Only, Port: 80}, "0.0.0.0", unix.AF_INET, false},
		{"IPv4 on tcp", protocol.BindSpec{Network: protocol.TCP, Port: 80, Address: "127.0.0.1"}, "127.0.0.1", unix.AF_INET, false},
		{"IPv4 on udp", protocol.BindSpec{Network: protocol.UDP, Port: 53, Address: "127.0.0.1"}, "127.0.0.1", unix.AF_INET, false},
		{"IPv4 wildcard literal on tcp", protocol.BindSpec{Network: protocol.TCP, Port: 80, Address: "0.0.0.0"}, "0.0.0.0", unix.AF_INET, false},
		{"v6only ignored on IPv4 address", protocol.BindSpec{Network: protocol.TCP, Flags: protocol.V6Only, Port: 80, Address: "127.0.0.1"}, "127.0.0.1", unix.AF_INET, false},
		{"IPv6 on tcp", protocol.BindSpec{Network: protocol.TCP, Port: 80, Address: "::1"}, "::1", unix.AF_INET6, false},
		{"IPv6 on tcp6 v6only", protocol.BindSpec{Network: protocol.TCP6, Flags: protocol.V6Only, Port: 80, Address: "::1"}, "::1", unix.AF_INET6, true},
		{"IPv4-mapped on tcp4", protocol.BindSpec{Network: protocol.TCP4, Port: 80, Address: "::ffff:127.0.0.1"}, "127.0.0.1", unix.AF_INET, false},
		{"IPv4-mapped on udp4", protocol.BindSpec{Network: protocol.UDP4, Port: 53, Address: "::ffff:127.0.0.1"}, "127.0.0.1", unix.AF_INET, false},
		{"link-local with zone", protocol.BindSpec{Network: protocol.TCP6, Port: 80, Address: "fe80::1%eth0"}, "fe80::1%eth0", unix.AF_INET6, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tg, err := resolve(tc.spec)
			if err != nil {
				t.Fatalf("resolve(%s): %v", tc.spec.String(), err)
			}
			if want := netip.MustParseAddr(tc.addr); tg.addr != want {
				t.Errorf("addr: got %s, want %s", tg.addr, want)
			}
			if tg.domain != tc.domain {
				t.Errorf("domain: got %d, want %d", tg.domain, tc.domain)
			}
			if tg.v6only != tc.v6only {
				t.Errorf("v6only: got %t, want %t", tg.v6only, tc.v6only)
			}
			if tg.port != uint16(tc.spec.Port) {
				t.Errorf("port: got %d, want %d", tg.port, tc.spec.Port)
			}
			if tg.spec != tc.spec {
				t.Errorf("spec: got %+v, want %+v unchanged", tg.spec, tc.spec)
			}
		})
	}
}

func TestResolveRejects(t *testing.T) {
	cases := []struct {
		name string
		spec protocol.BindSpec
		want string // substring of the error
	}{
		{"network 0", protocol.BindSpec{Network: 0, Port: 80}, "unknown network 0"},
		{"network 7", protocol.BindSpec{Network: 7, Port: 80}, "unknown network 7"},
		{"unknown flag", protocol.BindSpec{Network: protocol.TCP, Flags: 0x80, Port: 80}, "unknown flag bits 0x80"},
		{"port 0", protocol.BindSpec{Network: protocol.TCP, Port: 0}, "port 0 out of range"},
		{"port 65536", protocol.BindSpec{Network: protocol.TCP, Port: 65536}, "port 65536 out of range"},
		{"host name", protocol.BindSpec{Network: protocol.TCP, Port: 80, Address: "localhost"}, `invalid address "localhost"`},
		{"IPv6 on tcp4", protocol.BindSpec{Network: protocol.TCP4, Port: 80, Address: "::1"}, "is not IPv4"},
		{"IPv4 on tcp6", protocol.BindSpec{Network: protocol.TCP6, Port: 80, Address: "127.0.0.1"}, "is IPv4"},
		{"IPv4 on udp6", protocol.BindSpec{Network: protocol.UDP6, Port: 53, Address: "127.0.0.1"}, "is IPv4"},
		{"link-local without zone", protocol.BindSpec{Network: protocol.TCP6, Port: 80, Address: "fe80::1"}, "needs a zone"},
		{"zone on loopback", protocol.BindSpec{Network: protocol.TCP6, Port: 80, Address: "::1%lo"}, "has a zone but is not link-local"},
		{"backlog 65536", protocol.BindSpec{Network: protocol.TCP, Port: 80, Backlog: 65536}, "backlog 65536 exceeds 65535"},
		{"backlog max uint32", protocol.BindSpec{Network: protocol.TCP, Port: 80, Backlog: 1<<32 - 1}, "exceeds 65535"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tg, err := resolve(tc.spec)
			if err == nil {
				t.Fatalf("resolve(%+v): got %s, want an error containing %q", tc.spec, tg.String(), tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error: got %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestResolveMaxBacklog(t *testing.T) {
	spec := protocol.BindSpec{Network: protocol.TCP, Port: 80, Backlog: 65535}
	if _, err := resolve(spec); err != nil {
		t.Errorf("resolve with backlog 65535: got %v, want nil", err)
	}
}

func TestBindTCPLoopback(t *testing.T) {
	port := freePort(t, "tcp")
	fd := mustBind(t, protocol.BindSpec{Network: protocol.TCP, Flags: protocol.ReuseAddr, Port: uint32(port), Address: "127.0.0.1"})

	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		t.Fatalf("getsockopt SO_TYPE: %v", err)
	}
	if typ != unix.SOCK_STREAM {
		t.Errorf("SO_TYPE: got %d, want SOCK_STREAM (%d)", typ, unix.SOCK_STREAM)
	}
	listening, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	if err != nil {
		t.Fatalf("getsockopt SO_ACCEPTCONN: %v", err)
	}
	if listening != 1 {
		t.Errorf("SO_ACCEPTCONN: got %d, want 1", listening)
	}
	reuse, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR)
	if err != nil {
		t.Fatalf("getsockopt SO_REUSEADDR: %v", err)
	}
	if reuse == 0 {
		t.Errorf("SO_REUSEADDR: got 0, want it set by the ReuseAddr flag")
	}
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		t.Fatalf("fcntl F_GETFD: %v", err)
	}
	if flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("F_GETFD: got %#x, want FD_CLOEXEC set", flags)
	}

	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	in4, ok := sa.(*unix.SockaddrInet4)
	if !ok {
		t.Fatalf("getsockname: got %T, want *unix.SockaddrInet4", sa)
	}
	if in4.Port != int(port) {
		t.Errorf("bound port: got %d, want %d", in4.Port, port)
	}
	if got := netip.AddrFrom4(in4.Addr); got != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("bound address: got %s, want 127.0.0.1", got)
	}

	// The kernel completes the handshake from the listen queue, so the
	// dial succeeds without an accept.
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatalf("dial the bound socket: %v", err)
	}
	c.Close()
}

func TestBindAddrInUse(t *testing.T) {
	cases := []struct {
		name  string
		flags protocol.Flags
	}{
		{"no flags", 0},
		{"SO_REUSEADDR", protocol.ReuseAddr},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			port := freePort(t, "tcp")
			spec := protocol.BindSpec{Network: protocol.TCP, Flags: tc.flags, Port: uint32(port), Address: "127.0.0.1"}
			mustBind(t, spec)

			tg, err := resolve(spec)
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			before := openFDs(t)
			fd, err := bind(&tg)
			if err == nil {
				unix.Close(fd)
				t.Fatalf("second bind of 127.0.0.1:%d: got descriptor %d, want an error", port, fd)
			}
			if fd != -1 {
				t.Errorf("descriptor: got %d, want -1", fd)
			}
			var be *bindError
			if !errors.As(err, &be) {
				t.Fatalf("error: got %T %v, want *bindError", err, err)
			}
			if be.code != protocol.CodeAddrInUse {
				t.Errorf("code: got %v, want %v", be.code, protocol.CodeAddrInUse)
			}
			if !errors.Is(err, unix.EADDRINUSE) {
				t.Errorf("error: got %v, want it to wrap EADDRINUSE", err)
			}
			if want := fmt.Sprintf("bind tcp 127.0.0.1:%d", port); !strings.Contains(err.Error(), want) {
				t.Errorf("error: got %q, want it to contain %q", err, want)
			}
			if after := openFDs(t); after != before {
				t.Errorf("open descriptors: got %d after the failed bind, want %d as before", after, before)
			}
		})
	}
}

// Two sockets that both set SO_REUSEPORT may share a port, which shows
// that the ReusePort flag reaches the socket.
func TestBindReusePort(t *testing.T) {
	port := freePort(t, "tcp")
	spec := protocol.BindSpec{Network: protocol.TCP, Flags: protocol.ReusePort, Port: uint32(port), Address: "127.0.0.1"}
	first := mustBind(t, spec)
	second := mustBind(t, spec)
	if first == second {
		t.Errorf("descriptors: got %d twice, want two sockets", first)
	}
}

func TestBindUDP(t *testing.T) {
	port := freePort(t, "udp")
	fd := mustBind(t, protocol.BindSpec{Network: protocol.UDP, Port: uint32(port), Address: "127.0.0.1"})

	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		t.Fatalf("getsockopt SO_TYPE: %v", err)
	}
	if typ != unix.SOCK_DGRAM {
		t.Errorf("SO_TYPE: got %d, want SOCK_DGRAM (%d)", typ, unix.SOCK_DGRAM)
	}
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		t.Fatalf("fcntl F_GETFD: %v", err)
	}
	if flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("F_GETFD: got %#x, want FD_CLOEXEC set", flags)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	in4, ok := sa.(*unix.SockaddrInet4)
	if !ok {
		t.Fatalf("getsockname: got %T, want *unix.SockaddrInet4", sa)
	}
	if in4.Port != int(port) {
		t.Errorf("bound port: got %d, want %d", in4.Port, port)
	}
}

// The kernel sets IPV6_V6ONLY itself when a socket binds a specific IPv6
// address that is not IPv4-mapped (inet6_bind in net/ipv6/af_inet6.c), so
// only an IPv4-mapped address shows the value that configure set before bind.
func TestBindIPv6V6Only(t *testing.T) {
	cases := []struct {
		name    string
		address string
		flags   protocol.Flags
		want    int
	}{
		{"IPv4-mapped without flag", "::ffff:127.0.0.1", 0, 0},
		{"IPv6 loopback with flag", "::1", protocol.V6Only, 1},
	}
	if !hasIPv6Loopback() {
		t.Skip("no IPv6 loopback address on this host")
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := netip.MustParseAddr(tc.address).Unmap()
			port := freePortAt(t, "tcp", netip.AddrPortFrom(a, 0).String())

			fd := mustBind(t, protocol.BindSpec{Network: protocol.TCP6, Flags: tc.flags, Port: uint32(port), Address: tc.address})
			got, err := unix.GetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
			if err != nil {
				t.Fatalf("getsockopt IPV6_V6ONLY: %v", err)
			}
			if got != tc.want {
				t.Errorf("IPV6_V6ONLY: got %d, want %d", got, tc.want)
			}
		})
	}
}

// An IPv6-only socket cannot bind an IPv4-mapped address, which shows that
// the V6Only flag is set before bind.
func TestBindV6OnlyMappedFails(t *testing.T) {
	if !canOpenIPv6() {
		t.Skip("no IPv6 sockets on this host")
	}
	port := freePort(t, "tcp")
	tg, err := resolve(protocol.BindSpec{Network: protocol.TCP6, Flags: protocol.V6Only, Port: uint32(port), Address: "::ffff:127.0.0.1"})
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	fd, err := bind(&tg)
	if err == nil {
		unix.Close(fd)
		t.Fatal("bind: got a socket, want an error for an IPv4-mapped address on an IPv6-only socket")
	}
	var be *bindError
	if !errors.As(err, &be) {
		t.Fatalf("error: got %T %v, want *bindError", err, err)
	}
	if be.code != protocol.CodeBindFailed {
		t.Errorf("code: got %v, want %v", be.code, protocol.CodeBindFailed)
	}
}

// A zone that names no interface fails while the socket address is built,
// before any socket exists, so the address is never bound.
func TestBindUnknownZone(t *testing.T) {
	tg, err := resolve(protocol.BindSpec{Network: protocol.TCP6, Port: 8080, Address: "fe80::1%portgate-none"})
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	fd, err := bind(&tg)
	if err == nil {
		unix.Close(fd)
		t.Fatal("bind: got nil error, want the unknown zone rejected")
	}
	var be *bindError
	if !errors.As(err, &be) {
		t.Fatalf("error: got %T %v, want *bindError", err, err)
	}
	if be.code != protocol.CodeInvalid {
		t.Errorf("code: got %v, want %v", be.code, protocol.CodeInvalid)
	}
	if !strings.Contains(err.Error(), `zone "portgate-none"`) {
		t.Errorf("error: got %q, want it to name the zone", err)
	}
}

func TestBindCode(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want protocol.Code
	}{
		{"EADDRINUSE", unix.EADDRINUSE, protocol.CodeAddrInUse},
		{"EADDRNOTAVAIL", unix.EADDRNOTAVAIL, protocol.CodeAddrNotAvail},
		{"EACCES", unix.EACCES, protocol.CodeNoPrivilege},
		{"EPERM", unix.EPERM, protocol.CodeNoPrivilege},
		{"wrapped EADDRINUSE", fmt.Errorf("bind tcp 127.0.0.1:80: %w", unix.EADDRINUSE), protocol.CodeAddrInUse},
		{"wrapped EACCES", fmt.Errorf("bind: %w", unix.EACCES), protocol.CodeNoPrivilege},
		{"os.SyscallError", os.NewSyscallError("bind", unix.EADDRNOTAVAIL), protocol.CodeAddrNotAvail},
		{"EINVAL", unix.EINVAL, protocol.CodeBindFailed},
		{"ENOBUFS", unix.ENOBUFS, protocol.CodeBindFailed},
		{"plain error", errors.New("address in use"), protocol.CodeBindFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := bindCode(tc.err); got != tc.want {
				t.Errorf("bindCode(%v): got %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
