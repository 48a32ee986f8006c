package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portgate/portgate/protocol"
)

func TestDaemonAcceptErrorsBackOff(t *testing.T) {
	requireRoot(t)
	socket := filepath.Join(publicDir(t), "run", "helper.sock")
	writePolicy(t, daemonPolicy(socket, ""))
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=p")
	d, err := runDaemonCmd(t, ns.command(0, "prlimit", "--nofile=24:24", helper, "daemon"), socket)
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < 40; i++ {
		c, err := net.DialTimeout("unix", socket, time.Second)
		if err != nil {
			break
		}
		held = append(held, c)
	}
	time.Sleep(2 * time.Second)
	n := strings.Count(d.log.String(), `"accept failed"`)
	if n == 0 {
		t.Fatalf("no accept error with 24 descriptors and %d connections; the test did not reach the limit:\n%s", len(held), d.log.String())
	}
	if n > 5 {
		t.Errorf("%d accept errors logged in 2s, want at most 5 (one at the first failure, then one a second)", n)
	}
	if !strings.Contains(d.log.String(), `"socket":"`+socket+`"`) {
		t.Errorf("accept errors do not name the socket %s", socket)
	}
}

func TestDaemonStopsWithClientsOpen(t *testing.T) {
	_, _, d := daemonSetup(t, "")
	dialDaemon(t, d)
	start := time.Now()
	unix.Kill(d.pid, unix.SIGTERM)
	select {
	case err := <-d.exited:
		d.exited <- err
	case <-time.After(10 * time.Second):
		t.Fatal("daemon still running 10s after SIGTERM with one client open")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("daemon took %s to stop, want about the 2s grace", took)
	}
	if !strings.Contains(d.log.String(), `"closing sessions still open at stop"`) {
		t.Errorf("the stop does not log the sessions it closed:\n%s", d.log.String())
	}
}

func TestDaemonRejectsUnsafeSocketPaths(t *testing.T) {
	requireRoot(t)
	base := publicDir(t)
	owned := filepath.Join(base, "owned")
	if err := os.Mkdir(owned, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chown(owned, otherUID, otherUID)
	link := filepath.Join(base, "link")
	os.Symlink(base, link)
	cases := []struct {
		name, socket, want string
	}{
		{"parent owned by another user", filepath.Join(owned, "run", "helper.sock"), "is owned by uid 4242"},
		{"symlink above", filepath.Join(link, "run2", "helper.sock"), "is not a directory (a symlink?)"},
		{"shared directory", filepath.Join(os.TempDir(), "portgate-test-helper.sock"), "put the socket in a directory of its own"},
		{"too long", filepath.Join(base, strings.Repeat("d", 90), "helper.sock"), "is too long"},
	}
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=p")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			writePolicy(t, daemonPolicy(tc.socket, ""))
			_, err := tryStartDaemon(t, ns, helper, tc.socket)
			if err == nil {
				t.Fatalf("daemon started on %s", tc.socket)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not contain %q:\n%v", tc.want, err)
			}
		})
	}
}

func TestDaemonDropsBadMessageFlood(t *testing.T) {
	_, _, d := daemonSetup(t, "")
	conn := dialDaemon(t, d)
	closed := false
	for i := 0; i < 150 && !closed; i++ {
		if err := conn.Write(&protocol.Hello{MinVersion: 1, MaxVersion: 1}, nil); err != nil {
			closed = true
			break
		}
		if _, _, err := conn.Read(); err != nil {
			closed = true
		}
	}
	if !closed {
		t.Fatal("the daemon answered 150 unexpected messages, want it to hang up after 100")
	}
	waitLog(t, d, `"dropped client: too many bad messages"`)
	if n := strings.Count(d.log.String(), `"unexpected message"`); n > 10 {
		t.Errorf("%d unexpected-message events logged one by one, want at most 10", n)
	}
}

func TestDaemonMaxPeersPerUID(t *testing.T) {
	ns, _, d := daemonSetup(t, `
[limits]
max_peers_per_uid = 2
`)
	if e := thirdPeerError(t, d); e.Code != protocol.CodeLimit || !strings.Contains(e.Message, "uid 0 already holds max_peers_per_uid 2") {
		t.Errorf("third connection of uid 0: %s %q, want a per-uid limit error", e.Code, e.Message)
	}
	if rs := daemonClient(t, ns, d, nobodyUID, "tcp://127.0.0.1:80"); len(rs) != 1 || !rs[0].OK {
		t.Errorf("another uid while uid 0 is at its limit: %+v, want a grant", rs)
	}
}

func TestDaemonFrameTimeout(t *testing.T) {
	_, _, d := daemonSetup(t, `
[limits]
frame_timeout = "300ms"
`)
	conn := dialDaemon(t, d)
	// A header announcing 50 bytes, then 5 of them, then nothing.
	conn.UnixConn().Write([]byte{0, 0, 0, 50, 3, 0, 0, 0, 1})
	start := time.Now()
	for {
		if _, _, err := conn.Read(); err != nil {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("the daemon kept a half-sent frame open for 5s")
		}
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("half-sent frame closed after %s, want about 300ms", took)
	}
}
