package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portgate/portgate/e2e/pgclient/report"
	"github.com/portgate/portgate/protocol"
)

// Identities of the daemon tests: the daemon switches to daemonUID, and
// clients reach its socket through the group socketGID, which is nobody's
// own group, so a server running as nobody needs nothing more.
const (
	daemonUID = 4444
	socketGID = 65534
)

// helperDaemon is a running portgate-helper daemon.
type helperDaemon struct {
	cmd    *exec.Cmd
	pid    int
	log    *processLog
	socket string
	exited chan error
}

// daemonPolicy returns a policy for a daemon on socket with extra TOML
// appended (rules and limits).
func daemonPolicy(socket, extra string) string {
	return fmt.Sprintf(`
[daemon]
socket = %q
socket_group = "%d"
socket_mode = "0660"
user = "%d"

[[allow]]
users = ["65534"]
addresses = ["*"]
ports = [7, 80, "700-999"]
%s`, socket, socketGID, daemonUID, extra)
}

// startDaemon starts the daemon as root in ns and waits for its socket.
func startDaemon(t *testing.T, ns *netns, helper, socket string) *helperDaemon {
	t.Helper()
	d, err := tryStartDaemon(t, ns, helper, socket)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func tryStartDaemon(t *testing.T, ns *netns, helper, socket string) (*helperDaemon, error) {
	t.Helper()
	return runDaemonCmd(t, ns.command(0, helper, "daemon", "--log-level", "debug"), socket)
}

// runDaemonCmd starts cmd, a daemon, and waits for it to log its start.
func runDaemonCmd(t *testing.T, cmd *exec.Cmd, socket string) (*helperDaemon, error) {
	t.Helper()
	d := &helperDaemon{cmd: cmd, log: newProcessLog(t), socket: socket, exited: make(chan error, 1)}
	cmd.Stderr = d.log.file
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.pid = cmd.Process.Pid
	go func() { d.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-d.exited
		d.exited <- nil
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.log.String())
		}
	})
	deadline := time.After(10 * time.Second)
	for !strings.Contains(d.log.String(), `"daemon started"`) {
		select {
		case err := <-d.exited:
			d.exited <- err
			return nil, fmt.Errorf("daemon exited (%v):\n%s", err, d.log.String())
		case <-deadline:
			return nil, fmt.Errorf("daemon not started after 10s:\n%s", d.log.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return d, nil
}

// daemonSetup writes a daemon policy and starts the daemon with a helper
// that has the capability; it returns the namespace, the helper path and
// the daemon.
func daemonSetup(t *testing.T, extra string) (*netns, string, *helperDaemon) {
	t.Helper()
	requireRoot(t)
	socket := filepath.Join(publicDir(t), "run", "helper.sock")
	writePolicy(t, daemonPolicy(socket, extra))
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=p")
	return ns, helper, startDaemon(t, ns, helper, socket)
}

// daemonClient runs pgclient as uid with the socket group against d and
// returns its results.
func daemonClient(t *testing.T, ns *netns, d *helperDaemon, uid int, args ...string) []clientResult {
	t.Helper()
	var rs []clientResult
	dec := json.NewDecoder(strings.NewReader(runDaemonClient(t, ns, d, uid, args...)))
	for dec.More() {
		var r clientResult
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("pgclient output: %v", err)
		}
		rs = append(rs, r)
	}
	return rs
}

// churnSummary is the line pgclient -repeat prints.
type churnSummary = report.Churn

// daemonChurn runs pgclient -repeat n against d and returns its summary.
func daemonChurn(t *testing.T, ns *netns, d *helperDaemon, n int, urls ...string) churnSummary {
	t.Helper()
	var s churnSummary
	out := runDaemonClient(t, ns, d, nobodyUID, append([]string{"-repeat", strconv.Itoa(n)}, urls...)...)
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("pgclient -repeat output %q: %v", out, err)
	}
	return s
}

func runDaemonClient(t *testing.T, ns *netns, d *helperDaemon, uid int, args ...string) string {
	t.Helper()
	cmd := ns.commandGroups(uid, []int{socketGID}, bins.pgclient, append([]string{"-helper-socket", d.socket}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := timeoutKill(cmd, 5*time.Minute)
	err := cmd.Run()
	done()
	if err != nil {
		t.Errorf("pgclient %v: %v\n%s%s", args, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func TestDaemonPeersByKernelIdentity(t *testing.T) {
	ns, _, d := daemonSetup(t, "")
	allowed := daemonClient(t, ns, d, nobodyUID, "tcp://127.0.0.1:80")
	if len(allowed) != 1 || !allowed[0].OK {
		t.Fatalf("uid 65534 through the daemon: %+v, want a grant", allowed)
	}
	if !allowed[0].FromHelper[0] {
		t.Errorf("socket was not bound by the helper")
	}
	// uid 4242 sends a byte-for-byte copy of the granted request: the
	// protocol carries no identity, so only the kernel's answer counts.
	denied := daemonClient(t, ns, d, otherUID, "tcp://127.0.0.1:80")
	if len(denied) != 1 || denied[0].OK {
		t.Fatalf("uid 4242 through the daemon: %+v, want a denial", denied)
	}
	if denied[0].Code != uint16(protocol.CodeDenied) || !strings.Contains(denied[0].Error, "uid 4242 may not bind") {
		t.Errorf("denial: code %d error %q", denied[0].Code, denied[0].Error)
	}

	st := procStatus(d.pid)
	if st["Uid"] != "4444\t4444\t4444\t4444" {
		t.Errorf("daemon Uid %q, want 4444 throughout", st["Uid"])
	}
	for _, field := range []string{"CapPrm", "CapEff", "CapBnd"} {
		if st[field] != "0000000000000400" {
			t.Errorf("daemon %s = %s, want CAP_NET_BIND_SERVICE alone", field, st[field])
		}
	}
	if st["NoNewPrivs"] != "1" || st["Seccomp"] != "2" {
		t.Errorf("daemon NoNewPrivs %q Seccomp %q, want 1 and 2", st["NoNewPrivs"], st["Seccomp"])
	}
	log := d.log.String()
	if !strings.Contains(log, `"uid":4444,`) {
		t.Errorf("daemon start event does not report uid 4444 (a system call the seccomp filter blocks returns -1):\n%s", log)
	}
	for _, want := range []string{`"message":"granted"`, `"peer_uid":65534`, `"message":"denied"`, `"peer_uid":4242`, `"rule":1`} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %s:\n%s", want, log)
		}
	}
}

func TestDaemonSocketNeverWider(t *testing.T) {
	requireRoot(t)
	socket := filepath.Join(publicDir(t), "run", "helper.sock")
	writePolicy(t, daemonPolicy(socket, ""))
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=p")

	var mu sync.Mutex
	seen := map[uint32]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 2_000_000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			var st unix.Stat_t
			if unix.Lstat(socket, &st) == nil {
				mu.Lock()
				seen[st.Mode&0o7777]++
				mu.Unlock()
			}
		}
	}()
	d := startDaemon(t, ns, helper, socket)
	close(stop)
	wg.Wait()
	if len(seen) == 0 {
		t.Fatal("never saw the socket")
	}
	for mode := range seen {
		if mode != 0o660 {
			t.Errorf("socket seen with mode %#o, want only 0660", mode)
		}
	}
	var st unix.Stat_t
	if err := unix.Lstat(d.socket, &st); err != nil {
		t.Fatal(err)
	}
	if st.Gid != socketGID {
		t.Errorf("socket group %d, want %d", st.Gid, socketGID)
	}
}

func TestDaemonRestartAndSecondInstance(t *testing.T) {
	// The connections that fill the backlog are accepted once the daemon
	// runs again, so max_peers must leave room for them.
	ns, helper, d := daemonSetup(t, `
[limits]
max_peers = 10000
`)

	// A second instance while the first is alive but stopped, with its
	// backlog full: the lock refuses it, and the live socket stays.
	if err := unix.Kill(d.pid, unix.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var before unix.Stat_t
	unix.Lstat(d.socket, &before)
	var held []int
	for i := 0; i < 5000; i++ {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Connect(fd, &unix.SockaddrUnix{Name: d.socket}); err != nil {
			unix.Close(fd)
			break
		}
		held = append(held, fd)
	}
	// The deferred call reads held when the test ends, because the test
	// closes these descriptors earlier and their numbers may be reused.
	defer func() { protocol.CloseAll(held) }()
	second, err := tryStartDaemon(t, ns, helper, d.socket)
	if err == nil {
		second.cmd.Process.Kill()
		t.Fatal("a second daemon started while the first holds the lock")
	}
	if !strings.Contains(err.Error(), "holds the lock") || !strings.Contains(err.Error(), "pid "+strconv.Itoa(d.pid)) {
		t.Errorf("second daemon's error: %v, want it to name the lock and pid %d", err, d.pid)
	}
	var after unix.Stat_t
	if err := unix.Lstat(d.socket, &after); err != nil || after.Ino != before.Ino {
		t.Errorf("the live socket was replaced or removed (inode %d, then %d, %v)", before.Ino, after.Ino, err)
	}
	protocol.CloseAll(held)
	held = nil
	unix.Kill(d.pid, unix.SIGCONT)
	if rs := daemonClient(t, ns, d, nobodyUID, "tcp://127.0.0.1:80"); len(rs) != 1 || !rs[0].OK {
		t.Errorf("first daemon after the refused second one: %+v", rs)
	}

	// After SIGKILL the stale socket and the released lock do not block a
	// restart.
	unix.Kill(d.pid, unix.SIGKILL)
	<-d.exited
	d.exited <- nil
	if _, err := os.Lstat(d.socket); err != nil {
		t.Fatalf("want the killed daemon's stale socket left behind: %v", err)
	}
	restarted := startDaemon(t, ns, helper, d.socket)
	if rs := daemonClient(t, ns, restarted, nobodyUID, "tcp://127.0.0.1:80"); len(rs) != 1 || !rs[0].OK {
		t.Errorf("restarted daemon: %+v", rs)
	}
}

func TestDaemonKilledServicesKeepServing(t *testing.T) {
	ns, helper, d := daemonSetup(t, "")
	srv := startServer(t, ns, nobodyUID, helper, fmt.Sprintf(`
helper_socket = %q

[[service]]
name = "echo"
kind = "echo"
listen = ["tcp://127.0.0.1:7"]
`, d.socket))
	_ = srv
	unix.Kill(d.pid, unix.SIGKILL)
	<-d.exited
	d.exited <- nil
	echoOnce(t, ns, "127.0.0.1:7", "after the daemon died")
	restarted := startDaemon(t, ns, helper, d.socket)
	if rs := daemonClient(t, ns, restarted, nobodyUID, "tcp://127.0.0.1:81", "tcp://127.0.0.1:80"); len(rs) != 2 || rs[0].OK || !rs[1].OK {
		t.Errorf("restarted daemon: %+v, want a denial of 81 and a grant of 80", rs)
	}
	echoOnce(t, ns, "127.0.0.1:7", "after the daemon restarted")
}

// echoOnce checks that the TCP echo service at addr answers.
func echoOnce(t *testing.T, ns *netns, addr, when string) {
	t.Helper()
	c, err := ns.dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s %s: %v", addr, when, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(c, "ping")
	buf := make([]byte, 4)
	if _, err := c.Read(buf); err != nil || string(buf) != "ping" {
		t.Errorf("echo %s %s: got %q, %v", addr, when, buf, err)
	}
}

func TestDaemonChurnReturnsToBaseline(t *testing.T) {
	ns, _, d := daemonSetup(t, `
[limits]
requests_per_second = 1000000
burst = 1000000
max_sockets_per_peer = 1000000
`)
	const peers, rounds = 4, 1250 // 4 peers x 1250 rounds x 2 sockets = 10,000 grants
	churn := func(n int) []churnSummary {
		var wg sync.WaitGroup
		results := make([]churnSummary, peers)
		for p := 0; p < peers; p++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[p] = daemonChurn(t, ns, d, n, fmt.Sprintf("tcp://127.0.0.1:%d", 800+p), fmt.Sprintf("udp://127.0.0.1:%d", 800+p))
			}()
		}
		wg.Wait()
		return results
	}
	// A first round with the same load lets the Go runtime grow to its
	// working size (about 8 MiB here), so the baseline includes that; a
	// leak then shows as growth over the second round.
	churn(rounds)
	fdsBefore := settledFDs(t, d.pid, openFDs(t, d.pid))
	rssBefore := rssKiB(t, d.pid)
	results := churn(rounds)
	for p, r := range results {
		if r.Granted != 2*rounds || r.Failed != 0 {
			t.Errorf("peer %d: %d granted and %d failed (%s), want %d and 0", p, r.Granted, r.Failed, r.Error, 2*rounds)
		}
	}
	// The baseline may still count a connection of the first round that is
	// closing, so only growth counts as a leak.
	if fds := settledFDs(t, d.pid, fdsBefore); fds > fdsBefore {
		t.Errorf("daemon descriptors: %d after 10,000 grants, want at most %d", fds, fdsBefore)
	}
	rssAfter := rssKiB(t, d.pid)
	t.Logf("daemon RSS %d KiB before, %d KiB after 10,000 grants", rssBefore, rssAfter)
	if rssAfter > rssBefore+2048 {
		t.Errorf("daemon RSS grew from %d to %d KiB over 10,000 grants, want under 2 MiB of growth", rssBefore, rssAfter)
	}
}

func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	f := strings.Fields(procStatus(pid)["VmRSS"])
	if len(f) == 0 {
		t.Fatalf("no VmRSS for pid %d", pid)
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

func TestDaemonRateLimitSparesOthers(t *testing.T) {
	ns, _, d := daemonSetup(t, `
[limits]
requests_per_second = 5
burst = 5
`)
	var flood churnSummary
	done := make(chan struct{})
	go func() {
		defer close(done)
		flood = daemonChurn(t, ns, d, 100, "tcp://127.0.0.1:80")
	}()
	// The flood binds and closes port 80 over and over, so the second peer
	// asks for another port.
	other := daemonClient(t, ns, d, nobodyUID, "tcp://127.0.0.1:81", "tcp://127.0.0.1:900")
	<-done
	if len(other) != 2 || !other[1].OK {
		t.Errorf("a second peer during a flood: %+v, want its request to port 900 granted", other)
	}
	if flood.Codes[uint16(protocol.CodeLimit)] == 0 {
		t.Errorf("100 requests at once at 5 per second: no limit error, got %+v", flood)
	}
	// A port released and asked for again at once can meet the helper's
	// own copy, not yet closed, so address-in-use counts with the grants.
	if got := flood.Granted + flood.Codes[uint16(protocol.CodeAddrInUse)]; got < 5 {
		t.Errorf("the flooding peer got %d grants or address-in-use, want at least its burst of 5: %+v", got, flood)
	}
	if !strings.Contains(d.log.String(), "request rate limit reached") {
		t.Errorf("the flood was not rate-limited:\n%s", d.log.String())
	}
}

func TestDaemonReload(t *testing.T) {
	ns, _, d := daemonSetup(t, "")
	if rs := daemonClient(t, ns, d, nobodyUID, "tcp://127.0.0.1:1000"); len(rs) != 1 || rs[0].OK {
		t.Fatalf("port 1000 before reload: %+v, want a denial", rs)
	}
	writePolicy(t, daemonPolicy(d.socket, `
[[allow]]
users = ["65534"]
addresses = ["127.0.0.1"]
ports = [1000]
`))
	unix.Kill(d.pid, unix.SIGHUP)
	waitLog(t, d, `"policy reloaded"`)
	if rs := daemonClient(t, ns, d, nobodyUID, "tcp://127.0.0.1:1000"); len(rs) != 1 || !rs[0].OK {
		t.Fatalf("port 1000 after reload: %+v, want a grant", rs)
	}

	// A policy others can write is rejected and the loaded one stays.
	os.Chmod(bins.policyPath, 0o666)
	defer os.Chmod(bins.policyPath, 0o644)
	unix.Kill(d.pid, unix.SIGHUP)
	waitLog(t, d, `"reload failed, old policy kept"`)
	if rs := daemonClient(t, ns, d, nobodyUID, "tcp://127.0.0.1:1000"); len(rs) != 1 || !rs[0].OK {
		t.Errorf("port 1000 after a rejected reload: %+v, want the old policy's grant", rs)
	}
}

func waitLog(t *testing.T, d *helperDaemon, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(d.log.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("daemon log lacks %s after 5s", want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
