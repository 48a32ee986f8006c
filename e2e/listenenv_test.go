package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// waitReport waits up to 10s for the activated program's report file.
func waitReport(t *testing.T, path string) childReport {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(path)
		if err == nil {
			var r childReport
			if err := json.Unmarshal(data, &r); err != nil {
				t.Fatalf("report %s: %v: %q", path, err, data)
			}
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("no report at %s within 10s: %v", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestListenEnvReachesOnlyItsOwner starts the server under
// systemd-socket-activate with two sockets. It runs exec child A with no
// socket, which starts B, and exec child C with one socket, which starts
// D with the variables it was given. A and B must see no LISTEN_*
// variable at all; C must see exactly its own socket with LISTEN_PID set
// to its own pid; D must see a LISTEN_PID that is not its own, adopt
// nothing and still exit cleanly.
func TestListenEnvReachesOnlyItsOwner(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	prog := buildTool(t, "activated")
	helper := installHelper(t, "cap_net_bind_service=+ep")
	ns := newNetns(t)
	dir := nobodyDir(t)
	aPath, cPath := filepath.Join(dir, "a.json"), filepath.Join(dir, "c.json")
	config := webAndEcho +
		execConfig("a", []string{prog, "-spawn", "-allow-none", "-report", aPath}) +
		execConfig("c", []string{prog, "-spawn", "-report", cPath}, "tcp://127.0.0.1:701")
	argv := append([]string{"systemd-socket-activate", "-l", "127.0.0.1:80", "-l", "[::1]:700", "--fdname=web:echo"}, serveArgv(t, helper, config)...)
	var once sync.Once
	srv, err := startParent(t, ns, argv, func() {
		once.Do(func() { go firstRequest(ns, "127.0.0.1:80") })
	})
	if err != nil {
		t.Fatal(err)
	}
	log := srv.log.String()
	for _, want := range []string{`"fd":3,"fd_name":"web"`, `"fd":4,"fd_name":"echo"`} {
		if !strings.Contains(log, want) {
			t.Errorf("log does not show the adoption %s", want)
		}
	}

	a := waitReport(t, aPath)
	if len(a.Variables) != 0 {
		t.Errorf("child A, given no socket, sees %v, want no LISTEN_* variable", a.Variables)
	}
	if b := a.Grandchild; b == nil {
		t.Error("no report from B, the program A started")
	} else if len(b.Variables) != 0 || b.Adopted != 0 {
		t.Errorf("B sees %v and would adopt %d sockets, want nothing", b.Variables, b.Adopted)
	}

	c := waitReport(t, cPath)
	wantVars := []string{"LISTEN_FDNAMES=c", "LISTEN_FDS=1", "LISTEN_PID=" + strconv.Itoa(c.PID)}
	got := slices.Clone(c.Variables)
	slices.Sort(got)
	if !slices.Equal(got, wantVars) {
		t.Errorf("child C sees %v, want exactly %v", got, wantVars)
	}
	if !slices.Equal(c.Addresses, []string{"127.0.0.1:701"}) {
		t.Errorf("child C adopted %v, want its own socket 127.0.0.1:701 only", c.Addresses)
	}
	if c.ListenPID == strconv.Itoa(srv.pid) {
		t.Errorf("child C sees LISTEN_PID %s, the server's pid", c.ListenPID)
	}
	d := c.Grandchild
	if d == nil {
		t.Fatal("no report from D: the stale variables made it fail")
	}
	if d.ListenPID == strconv.Itoa(d.PID) || d.Adopted != 0 {
		t.Errorf("D sees LISTEN_PID %s (its pid %d) and would adopt %d sockets, want a foreign pid and none", d.ListenPID, d.PID, d.Adopted)
	}
	for fd, link := range d.OpenFDs {
		if strings.HasPrefix(link, "socket:") {
			t.Errorf("D has socket %s at descriptor %d, want none", link, fd)
		}
	}
	if strings.Contains(srv.log.String(), "exec child exited") {
		t.Error("an exec child exited; every child should keep running")
	}
}

// TestExecForkingWrapper runs the activated program behind a shell
// wrapper that forks it instead of exec'ing it. Without help, LISTEN_PID
// names the wrapper and the program rightly ignores its sockets. Through
// portgate listen-exec it takes them. Stopping the server must end
// the forked program too, and a wrapper that exits must not leave the
// program behind holding the sockets.
func TestExecForkingWrapper(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	prog := buildTool(t, "activated")
	helper := installHelper(t, "cap_net_bind_service=+ep")

	t.Run("without listen-exec", func(t *testing.T) {
		ns := newNetns(t)
		report := filepath.Join(nobodyDir(t), "r.json")
		wrapper := []string{"/bin/sh", "-c", `"$0" -allow-none -report "$1" & wait`, prog, report}
		srv := startServer(t, ns, nobodyUID, helper, execConfig("w", wrapper, "tcp://127.0.0.1:700"))
		r := waitReport(t, report)
		t.Cleanup(func() { unix.Kill(r.PID, unix.SIGKILL) })
		if r.ListenPID == strconv.Itoa(r.PID) || len(r.Addresses) != 0 {
			t.Errorf("forked program sees LISTEN_PID %s (its pid %d) and adopted %v, want the wrapper's pid and nothing", r.ListenPID, r.PID, r.Addresses)
		}
		stopAndWait(t, srv, r.PID)
	})

	t.Run("through listen-exec", func(t *testing.T) {
		ns := newNetns(t)
		wrapper := []string{"/bin/sh", "-c", `"$1" listen-exec -- "$0" & wait`, prog, bins.portgate}
		srv := startServer(t, ns, nobodyUID, helper, execConfig("w", wrapper, "tcp://127.0.0.1:700", "tcp://[::1]:701"))
		r := readReport(t, ns, "127.0.0.1:700")
		t.Cleanup(func() { unix.Kill(r.PID, unix.SIGKILL) })
		if r.ListenPID != strconv.Itoa(r.PID) {
			t.Errorf("LISTEN_PID %s, want the forked program's pid %d", r.ListenPID, r.PID)
		}
		if want := []string{"127.0.0.1:700", "[::1]:701"}; !slices.Equal(r.Addresses, want) {
			t.Errorf("descriptors 3 and 4 are %v, want %v", r.Addresses, want)
		}
		if kids := childrenOf(srv.pid); slices.Contains(kids, r.PID) {
			t.Errorf("program %d is the server's child, want it forked by the wrapper", r.PID)
		}
		stopAndWait(t, srv, r.PID)
	})

	t.Run("leftover drains on stop", func(t *testing.T) {
		ns := newNetns(t)
		done := filepath.Join(nobodyDir(t), "drained")
		// The background subshell takes a second to finish after SIGTERM,
		// well within the drain timeout, while its wrapper exits at once.
		wrapper := []string{"/bin/sh", "-c", `(trap 'sleep 1; echo ok > "$0"; exit 0' TERM; while :; do sleep 0.1; done) & wait`, done}
		config := execConfig("w", wrapper, "tcp://127.0.0.1:700") + "drain_timeout = \"10s\"\n"
		srv := startServer(t, ns, nobodyUID, helper, config)
		time.Sleep(300 * time.Millisecond)
		if err := unix.Kill(srv.pid, unix.SIGTERM); err != nil {
			t.Fatal(err)
		}
		waitGone(t, srv.pid)
		if data, err := os.ReadFile(done); err != nil || string(data) != "ok\n" {
			t.Errorf("the wrapper's background process did not finish its SIGTERM handler: %q, %v", data, err)
		}
	})

	t.Run("wrapper exits", func(t *testing.T) {
		ns := newNetns(t)
		wrapper := []string{"/bin/sh", "-c", `"$1" listen-exec -- "$0" & sleep 1; exit 3`, prog, bins.portgate}
		srv := startServer(t, ns, nobodyUID, helper, execConfig("w", wrapper, "tcp://127.0.0.1:700"))
		first := readReport(t, ns, "127.0.0.1:700")
		t.Cleanup(func() { unix.Kill(first.PID, unix.SIGKILL) })
		waitGone(t, first.PID)
		if !logHas(srv.log.String(), "exec child left processes in its process group", strconv.Itoa(first.PID)) {
			t.Errorf("log does not name the program %d that was killed with its wrapper", first.PID)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := readReport(t, ns, "127.0.0.1:700")
			if r.PID != first.PID {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the restarted wrapper's program never served port 700")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// stopAndWait stops the server with SIGTERM and waits until it and the
// program pid are gone.
func stopAndWait(t *testing.T, srv *server, pid int) {
	t.Helper()
	if err := unix.Kill(srv.pid, unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitGone(t, srv.pid)
	waitGone(t, pid)
}

// TestExecChildLeavingItsGroup runs a child that moves itself into the
// server's process group and ignores SIGTERM. Stopping the service must
// still end it once the drain timeout has passed.
func TestExecChildLeavingItsGroup(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	prog := buildTool(t, "activated")
	helper := installHelper(t, "cap_net_bind_service=+ep")
	ns := newNetns(t)
	m := startManaged(t, ns, helper, "", execConfig("leaver", []string{prog, "-leave-group"}, "tcp://127.0.0.1:700")+"drain_timeout = \"1s\"\n")
	r := readReport(t, ns, "127.0.0.1:700")
	t.Cleanup(func() { unix.Kill(r.PID, unix.SIGKILL) })
	if out := squeeze(m.mustCtl(t, "show", "leaver")); !strings.Contains(out, "command: "+prog+" -leave-group") {
		t.Errorf("ctl show does not print the command:\n%s", out)
	}
	start := time.Now()
	if _, errOut, code := m.ctl(nobodyUID, "stop", "leaver"); code != 0 {
		t.Fatalf("ctl stop: exit %d: %s", code, errOut)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("stop took %s with a 1s drain timeout", took)
	}
	waitGone(t, r.PID)
	if !strings.Contains(m.log.String(), "the child did not exit within the drain timeout of 1s after SIGTERM and was killed") {
		t.Error("log does not say that the child ignored SIGTERM and was killed")
	}
}

// TestExecNoSocketGetsNoDescriptor starts the server with two listening
// sockets meant for another process (LISTEN_PID names someone else), which
// the server must leave alone, and an exec child that takes no socket. The
// child must get neither of them.
func TestExecNoSocketGetsNoDescriptor(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	prog := buildTool(t, "activated")
	helper := installHelper(t, "cap_net_bind_service=+ep")
	ns := newNetns(t)
	report := filepath.Join(nobodyDir(t), "a.json")
	config := execConfig("a", []string{prog, "-allow-none", "-report", report})
	argv := []string{buildTool(t, "fdpass"), "-pid", "other", "tcp-listen=127.0.0.1:9701", "tcp-listen=127.0.0.1:9702", "--"}
	if _, err := startParent(t, ns, append(argv, serveArgv(t, helper, config)...), nil); err != nil {
		t.Fatal(err)
	}
	r := waitReport(t, report)
	if len(r.Variables) != 0 {
		t.Errorf("child sees %v, want no LISTEN_* variable", r.Variables)
	}
	for fd, link := range r.OpenFDs {
		if fd > 2 && !strings.HasPrefix(link, "/sys/fs/cgroup/") && !strings.HasPrefix(link, "anon_inode:") {
			t.Errorf("child started with descriptor %d (%s), want none of the server's", fd, link)
		}
	}
}
