package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// socketInodes returns the socket inode of each listening TCP port of
// process pid.
func socketInodes(pid int) map[int]string {
	out := map[int]string{}
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, e := range ents {
		fd, _ := strconv.Atoi(e.Name())
		if l := fdLink(pid, fd); strings.HasPrefix(l, "socket:") {
			if port := socketPort(pid, l); port != 0 {
				out[port] = l
			}
		}
	}
	return out
}

// configPathOf returns the --config argument of process pid.
func configPathOf(t *testing.T, pid int) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Split(string(data), "\x00")
	for i, a := range args {
		if a == "--config" && i+1 < len(args) {
			return args[i+1]
		}
	}
	t.Fatal("no --config in the server's command line")
	return ""
}

func echoConfig(names map[string]int) string {
	var b strings.Builder
	for _, n := range []string{"a", "b", "c", "d"} {
		if port, ok := names[n]; ok {
			fmt.Fprintf(&b, "\n[[service]]\nname = %q\nkind = \"echo\"\nlisten = [\"tcp://127.0.0.1:%d\"]\n", n, port)
		}
	}
	return b.String()
}

// TestReloadMarkAndSweep changes the config and sends SIGHUP: the
// unchanged service keeps its very socket and its open connection, the
// changed one moves, the removed one stops, the new one starts.
func TestReloadMarkAndSweep(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	srv := startServer(t, ns, nobodyUID, helper, echoConfig(map[string]int{"a": 700, "b": 701, "c": 702}))
	before := socketInodes(srv.pid)
	if before[700] == "" {
		t.Fatalf("no socket for port 700 among %v", before)
	}
	open, err := ns.dial("tcp", "127.0.0.1:700")
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()

	path := configPathOf(t, srv.pid)
	if err := os.WriteFile(path, []byte(echoConfig(map[string]int{"a": 700, "b": 703, "d": 704})), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Kill(srv.pid, unix.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitServerLog(t, srv, `"config reloaded"`)
	if !logHas(srv.log.String(), `"kept":1,"changed":1,"added":1,"removed":1`) {
		t.Error("reload log does not count 1 kept, 1 changed, 1 added, 1 removed")
	}
	after := socketInodes(srv.pid)
	if after[700] != before[700] {
		t.Errorf("socket of the unchanged service: %s before, %s after, want the same", before[700], after[700])
	}
	open.SetDeadline(time.Now().Add(5 * time.Second))
	open.Write([]byte("kept"))
	buf := make([]byte, 4)
	if n, err := open.Read(buf); err != nil || string(buf[:n]) != "kept" {
		t.Errorf("echo on the connection opened before the reload: got %q, %v", buf[:n], err)
	}
	for _, port := range []int{703, 704} {
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if got, err := echoVia(ns, addr, "new"); err != nil || got != "new" {
			t.Errorf("echo on %s after the reload: got %q, %v", addr, got, err)
		}
	}
	for _, port := range []int{701, 702} {
		if c, err := ns.dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			t.Errorf("port %d still accepts after the reload, want refused", port)
		}
	}

	// A config that does not parse changes nothing.
	os.WriteFile(path, []byte("[[service]\n"), 0o644)
	unix.Kill(srv.pid, unix.SIGHUP)
	waitServerLog(t, srv, `"reload failed"`)
	if got, err := echoVia(ns, "127.0.0.1:703", "still"); err != nil || got != "still" {
		t.Errorf("echo on 703 after a failed reload: got %q, %v", got, err)
	}
}

// TestReloadKeepsManagerUntilUpgrade moves the [manager] socket and
// services file in the config and sends SIGHUP: the running Local Manager
// must stay where it is, still write the services file it started with,
// and log that the change waits. An upgrade with SIGUSR2 then moves it.
func TestReloadKeepsManagerUntilUpgrade(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	m := startManaged(t, ns, helper, "", echoConfig(map[string]int{"a": 700}))
	path := configPathOf(t, m.pid)
	moved := &managed{server: m.server, ns: ns, dir: m.dir, socket: filepath.Join(m.dir, "moved.sock"), services: filepath.Join(m.dir, "moved.toml")}
	config := fmt.Sprintf("shutdown_timeout = \"5s\"\n\n[manager]\nsocket = %q\nservices_file = %q\n\n%s", moved.socket, moved.services, echoConfig(map[string]int{"a": 700}))
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Kill(m.pid, unix.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitServerLog(t, m.server, `"config reloaded"`)
	if !strings.Contains(m.log.String(), "the [manager] table changed") {
		t.Error("log does not say that the [manager] change waits for a restart")
	}
	m.mustCtl(t, "add", "--name", "b", "--kind", "echo", "--listen", "tcp://127.0.0.1:701")
	if data, err := os.ReadFile(m.services); err != nil || !strings.Contains(string(data), `"b"`) {
		t.Errorf("services file %s after ctl add: %v\n%s", m.services, err, data)
	}
	if _, err := os.Stat(moved.socket); err == nil {
		t.Errorf("%s exists before the upgrade", moved.socket)
	}

	// The successor reads the new [manager] table, with an empty
	// services file, so b does not come along.
	upgradeOnce(t, m.server, m.pid)
	if out := moved.mustCtl(t, "list"); !strings.Contains(out, "a") || strings.Contains(out, "b ") {
		t.Errorf("ctl list on the moved socket after the upgrade:\n%s", out)
	}
	if _, err := os.Stat(m.socket); err == nil {
		t.Errorf("old socket %s still exists after the upgrade", m.socket)
	}
}

// waitServerLog waits up to 10s for want to appear in the server's log.
func waitServerLog(t *testing.T, srv *server, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(srv.log.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s in the server log within 10s", want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReloadKeepsFailedService reloads a config that adds a service on a
// port the helper's policy denies. The service must stay listed as
// failed, with the denial as its error, and the others keep serving.
func TestReloadKeepsFailedService(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	m := startManaged(t, ns, helper, "", echoConfig(map[string]int{"a": 700}))
	path := configPathOf(t, m.pid)
	config := fmt.Sprintf("shutdown_timeout = \"5s\"\n\n[manager]\nsocket = %q\nservices_file = %q\n\n%s", m.socket, m.services, echoConfig(map[string]int{"a": 700, "b": 81}))
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Kill(m.pid, unix.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitServerLog(t, m.server, `"config reloaded"`)
	out := squeeze(m.mustCtl(t, "show", "b"))
	if !strings.Contains(out, "failed") || !strings.Contains(out, "denied by policy") {
		t.Errorf("ctl show b after the reload:\n%s\nwant the failed state and the denial", out)
	}
	if got, err := echoVia(ns, "127.0.0.1:700", "a"); err != nil || got != "a" {
		t.Errorf("echo on 700 after the reload: got %q, %v", got, err)
	}
}
