// Command portgate-helper is the privileged half of portgate. It holds the
// right to bind privileged ports, checks each request against its policy,
// and passes the bound sockets to the portgate server over a Unix socket.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/portgate/portgate/helper"
	"github.com/portgate/portgate/internal/logging"
	"github.com/portgate/portgate/internal/peercred"
	"github.com/portgate/portgate/protocol"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `Usage: portgate-helper COMMAND [OPTIONS]

portgate-helper binds privileged ports for the portgate server and passes
it the sockets. It grants only what its policy file allows:
  %s

Commands:
  child     serve one server over the Unix socket inherited as descriptor 3
            (the server starts the helper this way; you do not run it by hand)
  daemon    listen on the Unix socket named in the policy's [daemon] table
            and serve every server that connects (start it from an init system)
  check     report how this helper gets the right to bind privileged ports
            and test it by binding a loopback port
  version   print the version

Run portgate-helper COMMAND -h for the options of a command.
`

func main() {
	flag.Usage = func() { fmt.Fprintf(os.Stderr, usage, helper.PolicyPath) }
	if len(os.Args) < 2 {
		flag.Usage()
		os.Exit(2)
	}
	var code int
	switch os.Args[1] {
	case "child":
		code = runChild(os.Args[2:])
	case "daemon":
		code = runDaemon(os.Args[2:])
	case "check":
		code = runCheck(os.Args[2:])
	case "version", "--version":
		fmt.Printf("portgate-helper %s (protocol %d, policy %s)\n", version, protocol.Version, helper.PolicyPath)
	case "-h", "--help", "help":
		flag.Usage()
	default:
		fmt.Fprintf(os.Stderr, "portgate-helper: unknown command %q\n", os.Args[1])
		flag.Usage()
		code = 2
	}
	os.Exit(code)
}

func newFlagSet(name, text string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: portgate-helper %s [OPTIONS]\n\n%s\n\nOptions:\n", name, text)
		fs.PrintDefaults()
	}
	return fs
}

func runChild(args []string) int {
	fs := newFlagSet("child", "Serve one portgate server over the Unix stream socket it passed as a descriptor.")
	fd := fs.Int("fd", 3, "descriptor `number` of the inherited Unix stream socket")
	level := fs.String("log-level", "info", "log `level`: trace, debug, info, warn or error")
	fs.Parse(args)

	// Descriptors the server itself inherited without close-on-exec would
	// otherwise sit in the privileged process.
	stray := helper.CloseStrayDescriptors(*fd)
	// Privileges go first, before the helper reads anything a caller chose.
	mech, privErr := helper.DropPrivileges()

	log, err := logging.New(os.Stderr, *level)
	if err != nil {
		fmt.Fprintf(os.Stderr, "portgate-helper: invalid --log-level %q: %v\n", *level, err)
		return 2
	}
	conn, err := inheritedConn(*fd)
	if err != nil {
		log.Error().Err(err).Int("fd", *fd).Msg("no client socket")
		return 1
	}
	defer conn.Close()
	if len(stray) > 0 {
		log.Warn().Ints("fds", stray).Msg("closed descriptors inherited by accident")
	}
	if privErr != nil {
		return fail(log, conn, privErr)
	}
	logMechanism(log, mech)

	peer, err := peercred.Of(conn.UnixConn())
	if err != nil {
		return fail(log, conn, err)
	}
	// The credentials of a socketpair are those of the process that made
	// it, which must be the parent that started this helper. A socket that
	// leads elsewhere would carry someone else's credentials.
	if ppid := os.Getppid(); peer.PID != int32(ppid) {
		return fail(log, conn, fmt.Errorf("descriptor %d leads to pid %d, not to the parent process %d: start the helper through portgate", *fd, peer.PID, ppid))
	}
	policy, err := helper.LoadPolicy(helper.PolicyPath, 0)
	if errors.Is(err, helper.ErrNoPolicy) {
		log.Warn().Str("policy", helper.PolicyPath).Msg(err.Error())
		policy, err = &helper.Policy{Path: helper.PolicyPath, Missing: true, Limits: helper.DefaultLimits}, nil
	}
	if err != nil {
		return fail(log, conn, err)
	}
	log.Info().Str("policy", policy.Path).Int("rules", len(policy.Rules)).Uint32("peer_uid", peer.UID).Int32("peer_pid", peer.PID).Msg("helper started")
	// A child helper reads nothing more from the filesystem.
	exe := helper.PeerExecutable(peer.PID)
	confine(log, nil)

	s := &helper.Session{Conn: conn, Peer: peer, Policy: policy, Mechanism: mech, Log: log, PeerExe: exe}
	if err := s.Serve(); err != nil {
		log.Error().Err(err).Msg("session ended")
		return 1
	}
	log.Info().Msg("helper stopped: client closed the connection")
	return 0
}

// fail logs err and sends it to the client, which reads it in place of a
// Welcome, so the server can show why the helper did not start.
func fail(log zerolog.Logger, conn *protocol.Conn, err error) int {
	log.Error().Err(err).Msg("helper cannot start")
	conn.Write(&protocol.Error{Code: protocol.CodeHelperFailed, Index: protocol.NoIndex, Message: "portgate-helper: " + err.Error()}, nil)
	return 1
}

func logMechanism(log zerolog.Logger, m *helper.Mechanism) {
	ev := log.Info()
	if !m.CanBind() {
		ev = log.Warn().Strs("problems", m.Problems)
	}
	ev.Str("mechanism", m.Kind).Str("source", m.Source).Int("unprivileged_port_start", m.UnprivilegedPortStart).Msg("privilege")
	for _, n := range m.Notes {
		log.Info().Str("note", n).Msg("hardening step not applied")
	}
}

// inheritedConn checks that fd is a Unix stream socket and wraps it. The
// returned Conn owns a duplicate; the original descriptor is closed.
func inheritedConn(fd int) (*protocol.Conn, error) {
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return nil, fmt.Errorf("descriptor %d is not a socket (%w): start the helper through portgate, which passes it one", fd, err)
	}
	if typ != unix.SOCK_STREAM {
		return nil, fmt.Errorf("descriptor %d is a socket of type %d, want a Unix stream socket", fd, typ)
	}
	f := os.NewFile(uintptr(fd), "client")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("descriptor %d: %w", fd, err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("descriptor %d is a %T, want a Unix stream socket", fd, c)
	}
	return protocol.NewConn(uc), nil
}

func runCheck(args []string) int {
	fs := newFlagSet("check", "Report the mechanism that lets this helper bind privileged ports, then test it\nby binding a loopback port and closing it at once. The policy must allow the\ncaller that port on that address, as for any request. Exit status 0 means\nthe bind worked.")
	port := fs.Uint("port", 80, "privileged `port` to test")
	addr := fs.String("address", "127.0.0.1", "loopback `address` to test on")
	fs.Parse(args)
	a, err := netip.ParseAddr(*addr)
	if err != nil || !a.IsLoopback() {
		fmt.Fprintf(os.Stderr, "portgate-helper check: invalid --address %q: want a loopback address such as 127.0.0.1 or ::1\n", *addr)
		return 2
	}
	if *port < 1 || *port > 65535 {
		fmt.Fprintf(os.Stderr, "portgate-helper check: invalid --port %d: want 1 to 65535\n", *port)
		return 2
	}

	m, err := helper.DropPrivileges()
	if err != nil {
		fmt.Fprintf(os.Stderr, "portgate-helper check: %v\n", err)
		return 1
	}
	fmt.Printf("mechanism: %s\n", m.Kind)
	if m.Source != "" {
		fmt.Printf("source: %s\n", m.Source)
	}
	fmt.Printf("ip_unprivileged_port_start: %d\n", m.UnprivilegedPortStart)
	if !m.CanBind() {
		for _, p := range m.Problems {
			fmt.Printf("problem: %s\n", p)
		}
	}
	for _, n := range m.Notes {
		fmt.Printf("note: %s\n", n)
	}
	policy, err := helper.LoadPolicy(helper.PolicyPath, 0)
	if err != nil {
		fmt.Printf("policy: %v\n", err)
		return 1
	}
	// The caller is judged as the helper judges a peer: by its uid, its
	// gid and its supplementary groups.
	caller := helper.Peer{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	groups, err := os.Getgroups()
	if err != nil {
		fmt.Printf("policy: read the supplementary groups of uid %d: %v\n", caller.UID, err)
		return 1
	}
	for _, g := range groups {
		caller.Groups = append(caller.Groups, uint32(g))
	}
	if policy.Allow(caller, protocol.TCP, a, uint16(*port)) == 0 {
		fmt.Printf("policy: uid %d may not bind tcp %s, so the bind test is skipped: run check as an account the policy %s allows, with one of its ports\n",
			caller.UID, netip.AddrPortFrom(a, uint16(*port)), helper.PolicyPath)
		return 1
	}
	if err := helper.CheckBind(a, uint16(*port)); err != nil {
		fmt.Printf("bind %s: failed: %v\n", netip.AddrPortFrom(a, uint16(*port)), err)
		if !m.CanBind() {
			fmt.Println(m.Diagnosis())
		}
		return 1
	}
	fmt.Printf("bind %s: ok\n", netip.AddrPortFrom(a, uint16(*port)))
	return 0
}

// confine applies Landlock, leaving only the paths in readable, and the
// seccomp filter, and logs which of them applied.
func confine(log zerolog.Logger, readable []string) {
	if err := helper.RestrictFilesystem(readable); err != nil {
		log.Warn().Err(err).Msg("hardening step not applied: Landlock")
	} else {
		log.Info().Strs("readable", readable).Msg("Landlock applied")
	}
	if err := helper.RestrictSyscalls(); err != nil {
		log.Warn().Err(err).Msg("hardening step not applied: seccomp")
	} else {
		log.Info().Msg("seccomp filter applied")
	}
}
