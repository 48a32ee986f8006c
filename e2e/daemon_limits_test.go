package e2e

import (
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portgate/portgate/protocol"
)

// dialDaemon connects to d as the test process (root, so the socket's
// mode does not stop it) and completes the handshake.
func dialDaemon(t *testing.T, d *helperDaemon) *protocol.Conn {
	t.Helper()
	c, err := net.DialTimeout("unix", d.socket, 5*time.Second)
	if err != nil {
		t.Fatalf("dial daemon: %v", err)
	}
	conn := protocol.NewConn(c.(*net.UnixConn))
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if err := conn.Write(&protocol.Hello{MinVersion: 1, MaxVersion: 1}, nil); err != nil {
		t.Fatal(err)
	}
	if m, _, err := conn.Read(); err != nil {
		t.Fatalf("handshake: %v", err)
	} else if _, ok := m.(*protocol.Welcome); !ok {
		t.Fatalf("handshake: got %#v, want Welcome", m)
	}
	return conn
}

// thirdPeerError holds two connections to d open and returns the Error
// that d sends a third one, as the test process (uid 0).
func thirdPeerError(t *testing.T, d *helperDaemon) *protocol.Error {
	t.Helper()
	dialDaemon(t, d)
	dialDaemon(t, d)
	c, err := net.DialTimeout("unix", d.socket, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn := protocol.NewConn(c.(*net.UnixConn))
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return readError(t, conn)
}

func readError(t *testing.T, conn *protocol.Conn) *protocol.Error {
	t.Helper()
	m, fds, err := conn.Read()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	protocol.CloseAll(fds)
	e, ok := m.(*protocol.Error)
	if !ok {
		t.Fatalf("got %#v, want an Error", m)
	}
	return e
}

func TestDaemonBadInputThenNextPeer(t *testing.T) {
	ns, _, d := daemonSetup(t, "")
	conn := dialDaemon(t, d)
	base := openFDs(t, d.pid)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	conn.Write(&protocol.BindRequest{ID: 1, Binds: []protocol.BindSpec{spec(protocol.TCP, "127.0.0.1", 80)}}, p[:])
	unix.Close(p[0])
	unix.Close(p[1])
	if e := readError(t, conn); e.Code != protocol.CodeInvalid || !strings.Contains(e.Message, "accepts no descriptors") {
		t.Errorf("descriptors sent to the daemon: %s %q", e.Code, e.Message)
	}
	conn.UnixConn().Write([]byte{0, 0, 0, 3, 3, 0, 0})
	if e := readError(t, conn); e.Code != protocol.CodeInvalid {
		t.Errorf("truncated request: %s %q", e.Code, e.Message)
	}
	conn.UnixConn().Write([]byte{0xff, 0, 0, 0})
	if e := readError(t, conn); e.Code != protocol.CodeInvalid {
		t.Errorf("oversized frame: %s %q", e.Code, e.Message)
	}
	if rs := daemonClient(t, ns, d, nobodyUID, "tcp://127.0.0.1:80"); len(rs) != 1 || !rs[0].OK {
		t.Errorf("next peer after bad input: %+v", rs)
	}
	if n := settledFDs(t, d.pid, base-1); n != base-1 {
		t.Errorf("daemon holds %d descriptors after the bad peer was dropped, want %d", n, base-1)
	}
}

// TestDaemonMaxSocketsPerPeer has the daemon grant one connection at most
// three sockets. A client asking for four in separate requests is refused
// the fourth on its first connection, and the server's client then opens
// a second one and gets it there.
func TestDaemonMaxSocketsPerPeer(t *testing.T) {
	ns, _, d := daemonSetup(t, `
[limits]
max_sockets_per_peer = 3
`)
	rs := daemonClient(t, ns, d, nobodyUID, "tcp://127.0.0.1:801", "tcp://127.0.0.1:802", "tcp://127.0.0.1:803", "tcp://127.0.0.1:804")
	if len(rs) != 4 {
		t.Fatalf("got %d results, want 4", len(rs))
	}
	for i, r := range rs {
		if !r.OK {
			t.Errorf("socket %d: %s", i+1, r.Error)
		}
	}
	if !logHas(d.log.String(), `"granted":3`, `"max_sockets_per_peer":3`, "socket limit reached") {
		t.Error("daemon log does not show the fourth socket refused on the first connection")
	}
}

// TestDaemonReconnectWithinPeerLimit lets one uid hold a single
// connection of two sockets. Six sockets in separate requests need two
// reconnects, each of which may reach the daemon before it has counted the
// old connection as closed, and the client must then wait rather than fail.
// One request for three sockets cannot fit any connection and gets a
// limit error that names the request size.
// NOTE: the test does not force that ordering, so it passes without the
// client's retry too, unless the race happens in the run. The server's
// TestHandshakeRejectionAfterEPIPE forces the rejection to arrive before
// the client's Hello.
func TestDaemonReconnectWithinPeerLimit(t *testing.T) {
	ns, _, d := daemonSetup(t, `
[limits]
max_sockets_per_peer = 2
max_peers_per_uid = 1
`)
	for round := 0; round < 3; round++ {
		rs := daemonClient(t, ns, d, nobodyUID, "tcp://127.0.0.1:801", "tcp://127.0.0.1:802", "tcp://127.0.0.1:803", "tcp://127.0.0.1:804", "tcp://127.0.0.1:805", "tcp://127.0.0.1:806")
		for i, r := range rs {
			if !r.OK {
				t.Errorf("round %d, socket %d: %s", round, i+1, r.Error)
			}
		}
	}
	rs := daemonClient(t, ns, d, nobodyUID, "-together", "tcp://127.0.0.1:801", "tcp://127.0.0.1:802", "tcp://127.0.0.1:803")
	if len(rs) != 1 || rs[0].OK || rs[0].Code != uint16(protocol.CodeLimit) || !strings.Contains(rs[0].Error, "a request for 3 sockets is above max_sockets_per_peer 2") {
		t.Errorf("one request for 3 sockets: %+v, want a limit error naming the request size", rs)
	}
}

func TestDaemonMaxPeers(t *testing.T) {
	_, _, d := daemonSetup(t, `
[limits]
max_peers = 2
`)
	if e := thirdPeerError(t, d); e.Code != protocol.CodeLimit || !strings.Contains(e.Message, "max_peers 2") {
		t.Errorf("third peer: %s %q, want a limit error naming max_peers 2", e.Code, e.Message)
	}
}

func TestDaemonIdleTimeout(t *testing.T) {
	_, _, d := daemonSetup(t, `
[limits]
idle_timeout = "300ms"
`)
	conn := dialDaemon(t, d)
	start := time.Now()
	if _, _, err := conn.Read(); err == nil {
		t.Fatal("an idle connection got a message, want it closed")
	}
	if waited := time.Since(start); waited < 250*time.Millisecond || waited > 5*time.Second {
		t.Errorf("idle connection closed after %s, want about 300ms", waited)
	}
	waitLog(t, d, `"closed idle client"`)
}

func TestDaemonDenialsRateLimited(t *testing.T) {
	_, _, d := daemonSetup(t, "")
	conn := dialDaemon(t, d)
	for i := 0; i < 30; i++ {
		conn.Write(&protocol.BindRequest{ID: uint32(i), Binds: []protocol.BindSpec{spec(protocol.TCP, "127.0.0.1", 1000)}}, nil)
		if e := readError(t, conn); e.Code != protocol.CodeDenied {
			t.Fatalf("request %d: %s, want a denial", i, e.Code)
		}
	}
	conn.Close()
	waitLog(t, d, `"suppressed_denials":20`)
	if n := strings.Count(d.log.String(), `"message":"denied"`); n != 10 {
		t.Errorf("%d denial events logged one by one, want 10", n)
	}
}

func TestDaemonStartedAsServiceUser(t *testing.T) {
	requireRoot(t)
	dir := publicDir(t)
	run := dir + "/run"
	if err := unix.Mkdir(run, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chown(run, daemonUID, daemonUID); err != nil {
		t.Fatal(err)
	}
	socket := run + "/helper.sock"
	writePolicy(t, daemonPolicy(socket, ""))
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=p")
	cmd := ns.commandGroups(daemonUID, []int{socketGID}, helper, "daemon", "--log-level", "debug")
	d, err := runDaemonCmd(t, cmd, socket)
	if err != nil {
		t.Fatal(err)
	}
	if rs := daemonClient(t, ns, d, nobodyUID, "tcp://127.0.0.1:80"); len(rs) != 1 || !rs[0].OK {
		t.Errorf("daemon started as its user: %+v, want a grant", rs)
	}
	st := procStatus(d.pid)
	if st["Uid"] != "4444\t4444\t4444\t4444" || st["CapEff"] != "0000000000000400" {
		t.Errorf("daemon started as its user: Uid %q CapEff %s", st["Uid"], st["CapEff"])
	}
	var sock unix.Stat_t
	if err := unix.Lstat(socket, &sock); err != nil {
		t.Fatal(err)
	}
	if sock.Mode&0o777 != 0o660 || sock.Gid != socketGID || sock.Uid != daemonUID {
		t.Errorf("socket mode %#o owner %d:%d, want 0660 %d:%d", sock.Mode&0o777, sock.Uid, sock.Gid, daemonUID, socketGID)
	}
}
