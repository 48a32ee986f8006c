// Command fdpass is a test parent in the socket activation convention: it
// opens the descriptors that the end-to-end tests describe at 3, 4, ...,
// sets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES as told, and execs the
// command, which keeps its pid.
//
//	fdpass [-pid self|other|unset] [-count N] [-names A:B] SPEC... -- COMMAND ARGS...
//
// Each SPEC is one descriptor:
//
//	tcp-listen=ADDR     a listening TCP socket
//	tcp-bound=ADDR      a bound TCP socket that does not listen
//	tcp-connected=ADDR  a TCP socket connected to a listener at ADDR that
//	                    fdpass opens itself and leaves open
//	udp=ADDR            a bound UDP socket
//	unix-listen=PATH    a listening Unix stream socket
//	pipe                the read end of a pipe
//	file=PATH           a regular file opened for reading
//	closed              no descriptor: the number stays free
//
// It uses raw system calls only, so the Go runtime opens no descriptor of
// its own that a SPEC could collide with.
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	pid := flag.String("pid", "self", "LISTEN_PID: self, other or unset")
	count := flag.Int("count", -1, "LISTEN_FDS; -1 means the number of SPECs")
	names := flag.String("names", "", "LISTEN_FDNAMES; empty leaves it unset")
	flag.Parse()
	args := flag.Args()
	sep := -1
	for i, a := range args {
		if a == "--" {
			sep = i
			break
		}
	}
	if sep < 0 || sep == len(args)-1 {
		fail(fmt.Errorf("missing -- COMMAND"))
	}
	specs, command := args[:sep], args[sep+1:]

	// Open every descriptor at 100 and up first, then move them to 3, 4, ...
	high := make([]int, len(specs))
	for i, s := range specs {
		if s == "closed" {
			high[i] = -1
			continue
		}
		fd, err := open(s)
		if err != nil {
			fail(fmt.Errorf("%s: %w", s, err))
		}
		h, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD, 100+i)
		if err != nil {
			fail(err)
		}
		unix.Close(fd)
		high[i] = h
	}
	for i, h := range high {
		if h < 0 {
			unix.Close(3 + i)
			continue
		}
		// dup2 clears close-on-exec on the new number.
		if err := unix.Dup2(h, 3+i); err != nil {
			fail(err)
		}
		unix.Close(h)
	}

	env := os.Environ()
	n := *count
	if n < 0 {
		n = len(specs)
	}
	env = append(env, "LISTEN_FDS="+strconv.Itoa(n))
	switch *pid {
	case "self":
		env = append(env, "LISTEN_PID="+strconv.Itoa(os.Getpid()))
	case "other":
		env = append(env, "LISTEN_PID=1")
	}
	if *names != "" {
		env = append(env, "LISTEN_FDNAMES="+*names)
	}
	path := command[0]
	if !strings.Contains(path, "/") {
		for _, dir := range []string{"/usr/bin", "/bin", "/usr/sbin", "/sbin"} {
			if _, err := os.Stat(dir + "/" + path); err == nil {
				path = dir + "/" + path
				break
			}
		}
	}
	fail(syscall.Exec(path, command, env))
}

func open(spec string) (int, error) {
	kind, arg, _ := strings.Cut(spec, "=")
	switch kind {
	case "tcp-listen", "tcp-bound":
		fd, err := bound(unix.SOCK_STREAM, arg)
		if err == nil && kind == "tcp-listen" {
			err = unix.Listen(fd, 64)
		}
		return fd, err
	case "tcp-connected":
		l, err := bound(unix.SOCK_STREAM, arg)
		if err != nil {
			return -1, err
		}
		if err := unix.Listen(l, 1); err != nil {
			return -1, err
		}
		sa, _ := unix.Getsockname(l)
		c, err := unix.Socket(family(sa), unix.SOCK_STREAM, 0)
		if err != nil {
			return -1, err
		}
		// The listener stays open (and leaks into the command at a high
		// number, which is harmless) so that the connection stays up.
		return c, unix.Connect(c, sa)
	case "udp":
		return bound(unix.SOCK_DGRAM, arg)
	case "unix-listen":
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err != nil {
			return -1, err
		}
		if err := unix.Bind(fd, &unix.SockaddrUnix{Name: arg}); err != nil {
			return -1, err
		}
		return fd, unix.Listen(fd, 8)
	case "pipe":
		var p [2]int
		if err := unix.Pipe(p[:]); err != nil {
			return -1, err
		}
		return p[0], nil
	case "file":
		return unix.Open(arg, unix.O_RDONLY, 0)
	}
	return -1, fmt.Errorf("unknown descriptor kind %q", kind)
}

func bound(typ int, address string) (int, error) {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return -1, err
	}
	var sa unix.Sockaddr
	fam := unix.AF_INET
	if ap.Addr().Is4() {
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	} else {
		fam = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	}
	fd, err := unix.Socket(fam, typ, 0)
	if err != nil {
		return -1, err
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	return fd, unix.Bind(fd, sa)
}

func family(sa unix.Sockaddr) int {
	if _, ok := sa.(*unix.SockaddrInet6); ok {
		return unix.AF_INET6
	}
	return unix.AF_INET
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "fdpass:", err)
	os.Exit(111)
}
