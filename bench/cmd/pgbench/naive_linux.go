package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"

	"golang.org/x/sys/unix"
)

// naiveGranter is the least a grant over a process boundary takes: a
// child process that, for each byte it reads, binds and listens on a fixed
// address, sends the descriptor back with SCM_RIGHTS and closes its copy.
// It has no protocol, policy, logging or privilege handling, and gives the
// grant benchmark a floor for any helper.
type naiveGranter struct {
	conn *net.UnixConn
	cmd  *exec.Cmd
	oob  []byte
}

// startNaive starts pgbench naive-child for addr, an IPv4 address and
// port, over a socketpair.
func startNaive(addr string) (*naiveGranter, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "naive"), os.NewFile(uintptr(fds[1]), "naive-child")
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find pgbench: %w", err)
	}
	cmd := exec.Command(self, "naive-child", addr)
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.Stderr = os.Stderr
	err = cmd.Start()
	theirs.Close()
	if err != nil {
		ours.Close()
		return nil, fmt.Errorf("start naive child: %w", err)
	}
	c, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("wrap socketpair: %w", err)
	}
	return &naiveGranter{conn: c.(*net.UnixConn), cmd: cmd, oob: make([]byte, unix.CmsgSpace(4))}, nil
}

// listen requests one socket from the child and wraps it in a net.Listener.
func (g *naiveGranter) listen(context.Context, string) (net.Listener, error) {
	if _, err := g.conn.Write([]byte{1}); err != nil {
		return nil, fmt.Errorf("naive request: %w", err)
	}
	var b [1]byte
	_, oobn, _, _, err := g.conn.ReadMsgUnix(b[:], g.oob)
	if err != nil {
		return nil, fmt.Errorf("naive reply: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(g.oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("naive reply: no descriptor (%v)", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("naive reply: no descriptor (%v)", err)
	}
	f := os.NewFile(uintptr(fds[0]), "granted")
	defer f.Close()
	return net.FileListener(f)
}

func (g *naiveGranter) close() {
	g.conn.Close()
	g.cmd.Wait()
}

// runNaiveChild serves naiveGranter requests on descriptor 3 until its
// parent hangs up.
func runNaiveChild(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: pgbench naive-child IPV4:PORT")
	}
	ap, err := netipAddrPort(args[0])
	if err != nil {
		return err
	}
	var b [1]byte
	for {
		n, err := unix.Read(3, b[:])
		if n == 0 || err != nil {
			return nil
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("socket: %w", err)
		}
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		if err := unix.Bind(fd, ap); err != nil {
			return fmt.Errorf("bind %s: %w", args[0], err)
		}
		if err := unix.Listen(fd, 4096); err != nil {
			return fmt.Errorf("listen %s: %w", args[0], err)
		}
		err = unix.Sendmsg(3, b[:], unix.UnixRights(fd), nil, 0)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("send descriptor: %w", err)
		}
	}
}

func netipAddrPort(s string) (*unix.SockaddrInet4, error) {
	host, portText, err := net.SplitHostPort(s)
	if err != nil {
		return nil, fmt.Errorf("invalid address %q: %w", s, err)
	}
	ip := net.ParseIP(host).To4()
	port, err := strconv.Atoi(portText)
	if ip == nil || err != nil {
		return nil, fmt.Errorf("invalid address %q: want IPV4:PORT", s)
	}
	sa := &unix.SockaddrInet4{Port: port}
	copy(sa.Addr[:], ip)
	return sa, nil
}
