package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portgate/portgate/protocol"
)

func TestParseEndpoint(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want Endpoint
	}{
		{"tcp wildcard", "tcp://:80", Endpoint{"tcp", ":80"}},
		{"udp IPv4", "udp://127.0.0.1:53", Endpoint{"udp", "127.0.0.1:53"}},
		{"tcp6 IPv6", "tcp6://[::1]:443", Endpoint{"tcp6", "[::1]:443"}},
		{"tcp4 host name", "tcp4://localhost:8080", Endpoint{"tcp4", "localhost:8080"}},
		{"udp6 zone", "udp6://[fe80::1%eth0]:547", Endpoint{"udp6", "[fe80::1%eth0]:547"}},
		{"port 65535", "tcp://:65535", Endpoint{"tcp", ":65535"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEndpoint(tc.in)
			if err != nil {
				t.Fatalf("ParseEndpoint(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("ParseEndpoint(%q): got %+v, want %+v", tc.in, got, tc.want)
			}
			if got.String() != tc.in {
				t.Errorf("String: got %q, want %q", got.String(), tc.in)
			}
		})
	}
}

func TestParseEndpointRejects(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want string // substring of the error
	}{
		{"missing scheme", ":80", "want NETWORK://HOST:PORT"},
		{"scheme without slashes", "tcp:80", "want NETWORK://HOST:PORT"},
		{"empty", "", "want NETWORK://HOST:PORT"},
		{"unknown scheme", "sctp://:80", `unknown network "sctp"`},
		{"http scheme", "http://:80", `unknown network "http"`},
		{"upper-case scheme", "TCP://:80", `unknown network "TCP"`},
		{"missing port", "tcp://127.0.0.1", "missing port"},
		{"missing port IPv6", "tcp6://[::1]", "missing port"},
		{"empty port", "tcp://127.0.0.1:", `port ""`},
		{"port 70000", "tcp://:70000", `port "70000" is not a number`},
		{"port 65536", "udp://:65536", `port "65536" is not a number`},
		{"negative port", "tcp://:-1", `port "-1"`},
		{"service name", "tcp://:http", `port "http" is not a number`},
		{"unbracketed IPv6", "tcp6://::1:443", "too many colons"},
		{"path after port", "tcp://:80/", `port "80/"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEndpoint(tc.in)
			if err == nil {
				t.Fatalf("ParseEndpoint(%q): got %+v, want an error containing %q", tc.in, got, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error: got %q, want it to contain %q", err, tc.want)
			}
			if tc.in != "" && !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.in)) {
				t.Errorf("error: got %q, want it to name %q", err, tc.in)
			}
		})
	}
}

func TestEndpointBindSpec(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want protocol.BindSpec
	}{
		{"tcp IPv4", "tcp://127.0.0.1:80",
			protocol.BindSpec{Network: protocol.TCP, Flags: protocol.ReuseAddr, Port: 80, Address: "127.0.0.1"}},
		{"tcp wildcard", "tcp://:80",
			protocol.BindSpec{Network: protocol.TCP, Flags: protocol.ReuseAddr, Port: 80}},
		{"tcp4 wildcard", "tcp4://:80",
			protocol.BindSpec{Network: protocol.TCP4, Flags: protocol.ReuseAddr, Port: 80}},
		{"tcp6 wildcard", "tcp6://:443",
			protocol.BindSpec{Network: protocol.TCP6, Flags: protocol.ReuseAddr | protocol.V6Only, Port: 443}},
		{"tcp6 literal wildcard", "tcp6://[::]:443",
			protocol.BindSpec{Network: protocol.TCP6, Flags: protocol.ReuseAddr | protocol.V6Only, Port: 443, Address: "::"}},
		{"tcp6 long wildcard", "tcp6://[0:0::0]:443",
			protocol.BindSpec{Network: protocol.TCP6, Flags: protocol.ReuseAddr | protocol.V6Only, Port: 443, Address: "::"}},
		{"tcp6 loopback", "tcp6://[::1]:443",
			protocol.BindSpec{Network: protocol.TCP6, Flags: protocol.ReuseAddr, Port: 443, Address: "::1"}},
		{"udp IPv4", "udp://127.0.0.1:53",
			protocol.BindSpec{Network: protocol.UDP, Port: 53, Address: "127.0.0.1"}},
		{"udp wildcard", "udp://:53",
			protocol.BindSpec{Network: protocol.UDP, Port: 53}},
		{"udp4 wildcard", "udp4://:53",
			protocol.BindSpec{Network: protocol.UDP4, Port: 53}},
		{"udp6 wildcard", "udp6://:53",
			protocol.BindSpec{Network: protocol.UDP6, Flags: protocol.V6Only, Port: 53}},
		{"udp6 loopback", "udp6://[::1]:53",
			protocol.BindSpec{Network: protocol.UDP6, Port: 53, Address: "::1"}},
		{"udp6 zone", "udp6://[fe80::1%eth0]:547",
			protocol.BindSpec{Network: protocol.UDP6, Port: 547, Address: "fe80::1%eth0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ParseEndpoint(tc.in)
			if err != nil {
				t.Fatalf("ParseEndpoint(%q): %v", tc.in, err)
			}
			got, err := e.bindSpec(context.Background())
			if err != nil {
				t.Fatalf("bindSpec(%s): %v", e, err)
			}
			if got != tc.want {
				t.Errorf("bindSpec(%s): got %+v, want %+v", e, got, tc.want)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("bindSpec(%s): got a spec that fails Validate: %v", e, err)
			}
		})
	}
}

// The test runs only where /etc/hosts lists localhost. Go's resolver then
// returns that entry without a DNS query, so no lookup leaves the host.
func TestEndpointBindSpecLocalhost(t *testing.T) {
	if !hostsFileListsLocalhost() {
		t.Skip("/etc/hosts does not list localhost, so resolving it could query DNS")
	}
	cases := []struct {
		name  string
		in    string
		want4 bool // the address must be IPv4
	}{
		{"tcp", "tcp://localhost:8080", false},
		{"tcp4", "tcp4://localhost:8080", true},
		{"udp4", "udp4://localhost:5353", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ParseEndpoint(tc.in)
			if err != nil {
				t.Fatalf("ParseEndpoint(%q): %v", tc.in, err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			spec, err := e.bindSpec(ctx)
			if err != nil {
				t.Skipf("this host does not resolve localhost: %v", err)
			}
			a, err := netip.ParseAddr(spec.Address)
			if err != nil {
				t.Fatalf("Address: got %q, want an IP literal: %v", spec.Address, err)
			}
			if !a.IsLoopback() {
				t.Errorf("Address: got %s, want a loopback address", a)
			}
			if a.Is4In6() {
				t.Errorf("Address: got %s, want it unmapped", a)
			}
			if tc.want4 && !a.Is4() {
				t.Errorf("Address: got %s, want IPv4 for %s", a, e.Network)
			}
			if spec.Flags&protocol.V6Only != 0 {
				t.Errorf("Flags: got %#x, want V6Only clear for a specific address", spec.Flags)
			}
		})
	}
}

// hostsFileListsLocalhost reports whether /etc/hosts maps "localhost" to
// a loopback address.
func hostsFileListsLocalhost() bool {
	data, err := os.ReadFile("/etc/hosts")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		a, err := netip.ParseAddr(fields[0])
		if err != nil || !a.IsLoopback() {
			continue
		}
		for _, name := range fields[1:] {
			if name == "localhost" {
				return true
			}
		}
	}
	return false
}

// newDirectClient returns a Client whose helper path does not exist, so
// any attempt to start the helper fails with an error naming that path.
func newDirectClient(t *testing.T) (*Client, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "no-such-portgate-helper")
	c := &Client{HelperPath: path, Timeout: 5 * time.Second}
	t.Cleanup(func() { c.Close() })
	return c, path
}

// freePort returns a port on 127.0.0.1 that was free a moment ago, found
// by binding port 0 and closing the socket. Network is "tcp" or "udp".
func freePort(t *testing.T, network string) int {
	t.Helper()
	var addr net.Addr
	if network == "tcp" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen on a free TCP port: %v", err)
		}
		addr = l.Addr()
		l.Close()
	} else {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen on a free UDP port: %v", err)
		}
		addr = c.LocalAddr()
		c.Close()
	}
	return int(netip.MustParseAddrPort(addr.String()).Port())
}

func acquireContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestClientAcquireDirect(t *testing.T) {
	c, _ := newDirectClient(t)
	tcpPort, udpPort := freePort(t, "tcp"), freePort(t, "udp")
	endpoints := []Endpoint{
		{"tcp", fmt.Sprintf("127.0.0.1:%d", tcpPort)},
		{"udp", fmt.Sprintf("127.0.0.1:%d", udpPort)},
	}
	socks, err := c.Acquire(acquireContext(t), endpoints)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	for i := range socks {
		t.Cleanup(func() { socks[i].Close() })
	}
	if len(socks) != 2 {
		t.Fatalf("sockets: got %d, want 2", len(socks))
	}

	tcp := socks[0]
	if tcp.Endpoint != endpoints[0] {
		t.Errorf("socket 0 Endpoint: got %v, want %v", tcp.Endpoint, endpoints[0])
	}
	if tcp.Listener == nil {
		t.Fatal("socket 0 Listener: got nil, want a TCP listener")
	}
	if tcp.PacketConn != nil {
		t.Errorf("socket 0 PacketConn: got %v, want nil", tcp.PacketConn)
	}
	if tcp.FromHelper {
		t.Errorf("socket 0 FromHelper: got true, want false for a direct bind")
	}
	if got, want := tcp.LocalAddr().String(), endpoints[0].Address; got != want {
		t.Errorf("socket 0 LocalAddr: got %s, want %s", got, want)
	}

	udp := socks[1]
	if udp.PacketConn == nil {
		t.Fatal("socket 1 PacketConn: got nil, want a UDP socket")
	}
	if udp.Listener != nil {
		t.Errorf("socket 1 Listener: got %v, want nil", udp.Listener)
	}
	if udp.FromHelper {
		t.Errorf("socket 1 FromHelper: got true, want false for a direct bind")
	}
	if got, want := udp.LocalAddr().String(), endpoints[1].Address; got != want {
		t.Errorf("socket 1 LocalAddr: got %s, want %s", got, want)
	}

	if m := c.Mechanism(); m != "" {
		t.Errorf("Mechanism: got %q, want empty because no helper ran", m)
	}

	// The listener accepts, which shows that it is the socket it claims to be.
	conn, err := net.DialTimeout("tcp", endpoints[0].Address, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", endpoints[0].Address, err)
	}
	defer conn.Close()
	if err := tcp.Listener.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatalf("set accept deadline: %v", err)
	}
	accepted, err := tcp.Listener.Accept()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	accepted.Close()
}

func TestClientAcquireAllOrNothing(t *testing.T) {
	c, helperPath := newDirectClient(t)
	firstPort := freePort(t, "tcp")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer busy.Close()

	first := Endpoint{"tcp", fmt.Sprintf("127.0.0.1:%d", firstPort)}
	second := Endpoint{"tcp", busy.Addr().String()}
	socks, err := c.Acquire(acquireContext(t), []Endpoint{first, second})
	if err == nil {
		for i := range socks {
			socks[i].Close()
		}
		t.Fatalf("Acquire with %s in use: got %d sockets, want an error", second, len(socks))
	}
	if socks != nil {
		t.Errorf("sockets: got %v, want nil on error", socks)
	}
	if want := "listen " + second.String() + ":"; !strings.Contains(err.Error(), want) {
		t.Errorf("error: got %q, want it to contain %q", err, want)
	}
	if notWant := "listen " + first.String() + ":"; strings.Contains(err.Error(), notWant) {
		t.Errorf("error: got %q, want no %q because that endpoint was free", err, notWant)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("error: got %v, want it to match EADDRINUSE", err)
	}
	if strings.Contains(err.Error(), helperPath) {
		t.Errorf("error: got %q, want no attempt to start the helper", err)
	}

	// Acquire closed the first socket, so its port can be bound again.
	l, err := net.Listen("tcp", first.Address)
	if err != nil {
		t.Fatalf("listen on %s after the failed Acquire: %v, want the port free", first.Address, err)
	}
	l.Close()
}

// The helper is asked only for a bind that the kernel rejects with EACCES
// or EPERM. Binding a port below 1024 as root succeeds directly, so this
// test needs an unprivileged user with net.ipv4.ip_unprivileged_port_start
// above the port.
func TestClientAcquireMissingHelper(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:1")
	if err == nil {
		l.Close()
		t.Skip("this process may bind port 1 directly, so it never needs the helper")
	}
	if !errors.Is(err, syscall.EACCES) && !errors.Is(err, syscall.EPERM) {
		t.Skipf("port 1 on 127.0.0.1 is unavailable for another reason: %v", err)
	}
	c, helperPath := newDirectClient(t)
	_, err = c.Acquire(acquireContext(t), []Endpoint{{"tcp", "127.0.0.1:1"}})
	if err == nil {
		t.Fatal("Acquire of port 1 without a helper: got nil error, want one naming the helper path")
	}
	if !strings.Contains(err.Error(), helperPath) {
		t.Errorf("error: got %q, want it to name %s", err, helperPath)
	}
}

func TestAdoptFileRejects(t *testing.T) {
	tcpEndpoint := Endpoint{"tcp", "127.0.0.1:80"}
	udpEndpoint := Endpoint{"udp", "127.0.0.1:53"}
	cases := []struct {
		name     string
		open     func(t *testing.T) *os.File
		endpoint Endpoint
		want     string // substring of the error after "descriptor N "
	}{
		{"pipe", openPipe, tcpEndpoint, "is not a socket"},
		{"regular file", openRegularFile, tcpEndpoint, "is not a socket"},
		{"connected TCP socket", openConnectedTCP, tcpEndpoint, "is not a listening TCP socket"},
		{"UDP socket for tcp", openUDP, tcpEndpoint, "is not a listening TCP socket"},
		{"TCP listener for udp", openTCPListener, udpEndpoint, "is not a UDP socket"},
		{"Unix socket", openUnixListener, tcpEndpoint, "is not an IP socket"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.open(t)
			fd := f.Fd()
			s := Socket{Endpoint: tc.endpoint}
			err := adoptFile(f, &s)
			if err == nil {
				s.Close()
				t.Fatalf("adoptFile: got nil error, want one containing %q", tc.want)
			}
			if want := fmt.Sprintf("descriptor %d %s", fd, tc.want); !strings.Contains(err.Error(), want) {
				t.Errorf("error: got %q, want it to contain %q", err, want)
			}
			if cerr := f.Close(); !errors.Is(cerr, os.ErrClosed) {
				t.Errorf("Close after adoptFile: got %v, want os.ErrClosed because adoptFile closes the file", cerr)
			}
			if s.Listener != nil || s.PacketConn != nil {
				t.Errorf("Socket: got Listener %v PacketConn %v, want both nil", s.Listener, s.PacketConn)
			}
		})
	}
}

func TestAdoptFileAccepts(t *testing.T) {
	cases := []struct {
		name     string
		open     func(t *testing.T) *os.File
		endpoint Endpoint
		stream   bool
	}{
		{"TCP listener", openTCPListener, Endpoint{"tcp", "127.0.0.1:80"}, true},
		{"UDP socket", openUDP, Endpoint{"udp", "127.0.0.1:53"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.open(t)
			s := Socket{Endpoint: tc.endpoint}
			if err := adoptFile(f, &s); err != nil {
				t.Fatalf("adoptFile: %v", err)
			}
			defer s.Close()
			if cerr := f.Close(); !errors.Is(cerr, os.ErrClosed) {
				t.Errorf("Close after adoptFile: got %v, want os.ErrClosed because adoptFile closes the file", cerr)
			}
			if got := s.Listener != nil; got != tc.stream {
				t.Errorf("Listener set: got %t, want %t", got, tc.stream)
			}
			if got := s.PacketConn != nil; got == tc.stream {
				t.Errorf("PacketConn set: got %t, want %t", got, !tc.stream)
			}
		})
	}
}

// The doc comment of adoptFile promises a check of the address family that
// the endpoint's network requires, so an IPv6 socket must not pass as tcp4
// and an IPv4 socket must not pass as tcp6.
func TestAdoptFileWrongFamily(t *testing.T) {
	cases := []struct {
		name     string
		listen   string
		endpoint Endpoint
	}{
		{"IPv6 socket for tcp4", "[::1]:0", Endpoint{"tcp4", "127.0.0.1:80"}},
		{"IPv4 socket for tcp6", "127.0.0.1:0", Endpoint{"tcp6", "[::1]:80"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := net.Listen("tcp", tc.listen)
			if err != nil {
				t.Skipf("listen on %s: %v", tc.listen, err)
			}
			defer l.Close()
			f, err := l.(*net.TCPListener).File()
			if err != nil {
				t.Fatalf("File: %v", err)
			}
			s := Socket{Endpoint: tc.endpoint}
			if err := adoptFile(f, &s); err == nil {
				s.Close()
				t.Errorf("adoptFile of a %s listener for %s: got nil error, want the family rejected", tc.listen, tc.endpoint)
			}
		})
	}
}

func openPipe(t *testing.T) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("pipe: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	return r
}

func openRegularFile(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "not-a-socket"))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return f
}

// openConnectedTCP returns a duplicate of the client end of a loopback TCP
// connection: a stream socket that is connected but not listening.
func openConnectedTCP(t *testing.T) *os.File {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	c, err := net.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", l.Addr(), err)
	}
	t.Cleanup(func() { c.Close() })
	f, err := c.(*net.TCPConn).File()
	if err != nil {
		t.Fatalf("File: %v", err)
	}
	return f
}

func openUDP(t *testing.T) *os.File {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen udp: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	f, err := c.(*net.UDPConn).File()
	if err != nil {
		t.Fatalf("File: %v", err)
	}
	return f
}

func openTCPListener(t *testing.T) *os.File {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatalf("File: %v", err)
	}
	return f
}

func openUnixListener(t *testing.T) *os.File {
	t.Helper()
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatalf("listen unix: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	f, err := l.(*net.UnixListener).File()
	if err != nil {
		t.Fatalf("File: %v", err)
	}
	return f
}

func TestAcquirePortZeroDirect(t *testing.T) {
	c := &Client{HelperPath: filepath.Join(t.TempDir(), "no-helper")}
	socks, err := c.Acquire(context.Background(), []Endpoint{{"tcp", "127.0.0.1:0"}, {"udp", "127.0.0.1:0"}})
	if err != nil {
		t.Fatalf("Acquire of port 0: %v", err)
	}
	defer func() {
		for i := range socks {
			socks[i].Close()
		}
	}()
	for _, s := range socks {
		if s.FromHelper {
			t.Errorf("%s came from the helper, want a direct bind", s.Endpoint)
		}
		if strings.HasSuffix(s.LocalAddr().String(), ":0") {
			t.Errorf("%s is bound to %s, want a kernel-chosen port", s.Endpoint, s.LocalAddr())
		}
	}
}
