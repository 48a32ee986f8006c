package e2e

import (
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	pgserver "github.com/portgate/portgate/server"
)

var successorPID = regexp.MustCompile(`"successor_pid":(\d+),"time":"[^"]*","message":"upgrade: successor ready`)

// upgradeOnce sends SIGUSR2 to pid and waits until the successor is ready
// and pid has exited. It returns the successor's pid.
func upgradeOnce(t *testing.T, srv *server, pid int) int {
	t.Helper()
	before := len(successorPID.FindAllStringSubmatch(srv.log.String(), -1))
	if err := unix.Kill(pid, unix.SIGUSR2); err != nil {
		t.Fatalf("SIGUSR2 to %d: %v", pid, err)
	}
	deadline := time.Now().Add(40 * time.Second)
	for {
		if m := successorPID.FindAllStringSubmatch(srv.log.String(), -1); len(m) > before {
			next, _ := strconv.Atoi(m[len(m)-1][1])
			t.Cleanup(func() { unix.Kill(next, unix.SIGTERM) })
			waitGone(t, pid)
			return next
		}
		if time.Now().After(deadline) {
			t.Fatalf("no successor ready within 40s of SIGUSR2 to %d", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func statusOf(t *testing.T, m *managed) pgserver.ServerStatus {
	t.Helper()
	var st pgserver.ServerStatus
	if err := json.Unmarshal([]byte(m.mustCtl(t, "--json", "status")), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestUpgradeHandsOverEverySocket runs 20 upgrades back to back with
// SIGUSR2. Every successor must serve every configured port on the very
// sockets of the first process (same inode, same port, including an
// ephemeral port and addresses written as ":8080" and "localhost:8081"),
// all inherited and none bound anew.
func TestUpgradeHandsOverEverySocket(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	m := startManaged(t, ns, helper, "", `
[[service]]
name = "main"
kind = "echo"
listen = ["tcp://127.0.0.1:0", "tcp://:8080", "tcp://localhost:8081"]

[[service]]
name = "admin"
kind = "http"
listen = ["tcp://127.0.0.1:80"]
`)
	first := statusOf(t, m)
	addrs := map[string]string{}
	for _, svc := range first.Services {
		for _, l := range svc.Listeners {
			addrs[svc.Config.Name+" "+l.Endpoint] = l.Address
		}
	}
	inodes := socketInodes(m.pid)
	if len(inodes) != 4 {
		t.Fatalf("found sockets on ports %v, want 4", inodes)
	}
	pid := m.pid
	for round := 1; round <= 20; round++ {
		pid = upgradeOnce(t, m.server, pid)
		st := statusOf(t, m)
		if st.PID != pid {
			t.Fatalf("round %d: status from pid %d, want the successor %d", round, st.PID, pid)
		}
		for _, svc := range st.Services {
			for _, l := range svc.Listeners {
				key := svc.Config.Name + " " + l.Endpoint
				if l.Address != addrs[key] {
					t.Errorf("round %d: %s on %s, want %s", round, key, l.Address, addrs[key])
				}
				if !l.Inherited {
					t.Errorf("round %d: %s was bound anew, want it inherited", round, key)
				}
			}
		}
		now := socketInodes(pid)
		for port, inode := range inodes {
			if now[port] != inode {
				t.Errorf("round %d: port %d is socket %s, want %s", round, port, now[port], inode)
			}
		}
		for key, addr := range addrs {
			if strings.HasPrefix(key, "main ") {
				if got, err := echoVia(ns, strings.Replace(addr, "[::]", "127.0.0.1", 1), "up"); err != nil || got != "up" {
					t.Errorf("round %d: echo on %s: got %q, %v", round, addr, got, err)
				}
			}
		}
		if body, err := firstRequest(ns, "127.0.0.1:80"); err != nil || !strings.Contains(string(body), "portgate is running") {
			t.Errorf("round %d: http on 80: %v", round, err)
		}
		if t.Failed() {
			return
		}
	}
}

// TestUpgradeFailureKeepsServing makes the successor fail to start,
// because the config now holds a service whose port another process
// holds. The old process must keep serving, with its Local Manager.
func TestUpgradeFailureKeepsServing(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	m := startManaged(t, ns, helper, "", echoConfig(map[string]int{"a": 700}))
	busy, err := ns.listen("tcp", "127.0.0.1:701")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	path := configPathOf(t, m.pid)
	text, _ := os.ReadFile(path)
	os.WriteFile(path, append(text, []byte(echoConfig(map[string]int{"b": 701}))...), 0o644)

	unix.Kill(m.pid, unix.SIGUSR2)
	deadline := time.Now().Add(40 * time.Second)
	for !strings.Contains(m.log.String(), `"upgrade failed: this process keeps serving"`) {
		if time.Now().After(deadline) {
			t.Fatal("no \"upgrade failed\" in the log within 40s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := unix.Kill(m.pid, 0); err != nil {
		t.Fatalf("the old server is gone after a failed upgrade: %v", err)
	}
	if got, err := echoVia(ns, "127.0.0.1:700", "still"); err != nil || got != "still" {
		t.Errorf("echo on the old server after the failed upgrade: got %q, %v", got, err)
	}
	if st := statusOf(t, m); st.PID != m.pid {
		t.Errorf("ctl status answered from pid %d, want the old server %d", st.PID, m.pid)
	}
}

// TestUpgradeReleasesDroppedService upgrades to a config without service
// b: once the successor is ready, b's port refuses connections, no
// process of ours holds its socket, and adding b back works.
func TestUpgradeReleasesDroppedService(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	m := startManaged(t, ns, helper, "", echoConfig(map[string]int{"a": 700, "b": 701}))
	path := configPathOf(t, m.pid)
	text, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(text), echoConfig(map[string]int{"a": 700, "b": 701}), echoConfig(map[string]int{"a": 700}), 1)), 0o644)
	pid := upgradeOnce(t, m.server, m.pid)
	if c, err := ns.dial("tcp", "127.0.0.1:701"); err == nil {
		c.Close()
		t.Error("b's port accepts after the upgrade, want refused")
	}
	if _, ok := socketInodes(pid)[701]; ok {
		t.Error("the successor holds a socket on b's port, want none")
	}
	if got, err := echoVia(ns, "127.0.0.1:700", "a"); err != nil || got != "a" {
		t.Errorf("echo on a after the upgrade: got %q, %v", got, err)
	}
	m.mustCtl(t, "add", "--name", "b", "--kind", "echo", "--listen", "tcp://127.0.0.1:701")
	if got, err := echoVia(ns, "127.0.0.1:701", "b"); err != nil || got != "b" {
		t.Errorf("echo on b after adding it back: got %q, %v", got, err)
	}

}
