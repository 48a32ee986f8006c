package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portgate/portgate/protocol"
)

// The tests below run this test binary as a misbehaving helper: a wrapper
// script sets PORTGATE_FAKE_HELPER to the misbehaviour and execs the test
// binary, whose TestMain then plays the helper on descriptor 3.
func TestMain(m *testing.M) {
	if mode := os.Getenv("PORTGATE_FAKE_HELPER"); mode != "" {
		os.Exit(fakeHelper(mode))
	}
	os.Exit(m.Run())
}

func fakeHelper(mode string) int {
	f := os.NewFile(3, "client")
	c, err := net.FileConn(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake helper:", err)
		return 1
	}
	conn := protocol.NewConn(c.(*net.UnixConn))
	if mode == "exit-before-welcome" {
		return 0
	}
	if _, _, err := conn.Read(); err != nil {
		return 1
	}
	conn.Write(&protocol.Welcome{Version: protocol.Version, Mechanism: "fake"}, nil)
	m, _, err := conn.Read()
	if err != nil {
		return 1
	}
	req := m.(*protocol.BindRequest)
	total := uint16(len(req.Binds))
	pipes := func(n int) []int {
		fds := make([]int, n)
		for i := range fds {
			var p [2]int
			unix.Pipe(p[:])
			unix.Close(p[1])
			fds[i] = p[0]
		}
		return fds
	}
	sockets := func(n int) []int {
		fds := make([]int, n)
		for i := range fds {
			fd, _ := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
			unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
			unix.Listen(fd, 1)
			fds[i] = fd
		}
		return fds
	}
	switch mode {
	case "exit-before-reply":
		return 0
	case "grant-without-fd":
		conn.Write(&protocol.Grant{ID: req.ID, Count: 1, Total: total}, nil)
	case "error-with-fds":
		conn.Write(&protocol.Error{ID: req.ID, Code: protocol.CodeDenied, Message: "fake denial"}, pipes(2))
	case "first-batch-then-exit":
		conn.Write(&protocol.Grant{ID: req.ID, First: 0, Count: protocol.MaxFDsPerFrame, Total: total}, sockets(protocol.MaxFDsPerFrame))
		return 0
	case "batch-out-of-order":
		conn.Write(&protocol.Grant{ID: req.ID, First: 0, Count: protocol.MaxFDsPerFrame, Total: total}, sockets(protocol.MaxFDsPerFrame))
		conn.Write(&protocol.Grant{ID: req.ID, First: 2 * protocol.MaxFDsPerFrame, Count: 2, Total: total}, sockets(2))
	case "grant-pipe":
		conn.Write(&protocol.Grant{ID: req.ID, Count: 1, Total: total}, pipes(1))
	case "wrong-request-id":
		conn.Write(&protocol.Grant{ID: req.ID + 1, Count: 1, Total: total}, sockets(1))
	}
	// Wait for the client to hang up, so that it sees the reply, not EOF.
	conn.Read()
	return 0
}

// fakeClient returns a Client whose helper is this test binary playing mode.
func fakeClient(t *testing.T, mode string) *Client {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "fake-helper")
	text := fmt.Sprintf("#!/bin/sh\nPORTGATE_FAKE_HELPER=%s exec %s \"$@\"\n", mode, exe)
	if err := os.WriteFile(script, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
	c := &Client{HelperPath: script, Timeout: 10 * time.Second, skipDirect: true}
	t.Cleanup(func() { c.Close() })
	return c
}

// countOpenFDs returns the number of open descriptors once it has stayed
// the same for 50ms (at most 2s), so that pipes an earlier helper child
// left to os/exec's goroutines are closed before it counts.
func countOpenFDs(t *testing.T) int {
	t.Helper()
	count := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skipf("cannot count descriptors: %v", err)
		}
		return len(ents)
	}
	n, same := count(), 0
	for end := time.Now().Add(2 * time.Second); same < 5 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
		if m := count(); m == n {
			same++
		} else {
			n, same = m, 0
		}
	}
	return n
}

func TestClientAgainstMisbehavingHelper(t *testing.T) {
	cases := []struct {
		name  string
		mode  string
		binds int
		want  string
	}{
		{"exit before welcome", "exit-before-welcome", 1, "helper closed connection"},
		{"exit before reply", "exit-before-reply", 1, "helper closed connection"},
		{"grant without its socket", "grant-without-fd", 1, "carries 0 descriptors, but its header declares 1"},
		{"error carrying descriptors", "error-with-fds", 1, "fake denial"},
		{"first batch then exit", "first-batch-then-exit", 130, "helper closed connection"},
		{"batch out of order", "batch-out-of-order", 130, "starts at socket 128, want 64"},
		{"pipe instead of socket", "grant-pipe", 1, "is not a socket"},
		{"reply to another request", "wrong-request-id", 1, "helper granted request 2, want 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := fakeClient(t, tc.mode)
			eps := make([]Endpoint, tc.binds)
			for i := range eps {
				eps[i] = Endpoint{"tcp", fmt.Sprintf("127.0.0.1:%d", 20000+i)}
			}
			before := countOpenFDs(t)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			socks, err := c.Acquire(ctx, eps)
			if err == nil {
				for i := range socks {
					socks[i].Close()
				}
				t.Fatalf("Acquire succeeded against helper mode %s, want an error", tc.mode)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			c.Close()
			if after := countOpenFDs(t); after != before {
				t.Errorf("descriptors: %d after the failed request, want %d", after, before)
			}
		})
	}
}

func TestClientHelperClosedIsTyped(t *testing.T) {
	c := fakeClient(t, "exit-before-reply")
	_, err := c.Listen(context.Background(), "tcp", "127.0.0.1:20000")
	if !errors.Is(err, ErrHelperClosed) {
		t.Errorf("got %v, want an error matching ErrHelperClosed", err)
	}
}

func TestClientMissingHelper(t *testing.T) {
	c := &Client{HelperPath: filepath.Join(t.TempDir(), "no-such-helper"), skipDirect: true}
	_, err := c.Listen(context.Background(), "tcp", "127.0.0.1:20000")
	if err == nil {
		t.Fatal("Listen with a missing helper succeeded, want an error")
	}
	for _, want := range []string{"no-such-helper", "set helper in the config"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// A daemon that rejects a connection for its peer limits writes an Error
// and closes before it reads the Hello. The handshake's write then fails
// with EPIPE, and the rejection must still reach the caller, because the
// caller's retry depends on its code.
func TestHandshakeRejectionAfterEPIPE(t *testing.T) {
	fds, err := socketpair()
	if err != nil {
		t.Fatal(err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "client"), os.NewFile(uintptr(fds[1]), "daemon")
	wrap := func(f *os.File) *protocol.Conn {
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return protocol.NewConn(c.(*net.UnixConn))
	}
	daemon := wrap(theirs)
	rejection := &protocol.Error{Code: protocol.CodeLimit, Index: protocol.NoIndex, Message: "uid 65534 already has max_peers_per_uid 1 connections open"}
	if err := daemon.Write(rejection, nil); err != nil {
		t.Fatal(err)
	}
	daemon.Close()

	h := &helperConn{conn: wrap(mine)}
	defer h.conn.Close()
	err = h.handshake(5 * time.Second)
	if !errors.Is(err, protocol.CodeLimit) {
		t.Fatalf("handshake with a rejecting daemon: got %v, expected an error matching CodeLimit", err)
	}
}
