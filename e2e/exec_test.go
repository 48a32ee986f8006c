package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// childReport is the JSON that the activated test program sends.
type childReport struct {
	PID         int            `json:"pid"`
	ListenPID   string         `json:"listen_pid"`
	ListenFDs   string         `json:"listen_fds"`
	ListenNames string         `json:"listen_fdnames"`
	Addresses   []string       `json:"addresses"`
	OpenFDs     map[int]string `json:"open_fds"`
	Grandchild  *childReport   `json:"grandchild"`
	Adopted     int            `json:"adopted"`
	Variables   []string       `json:"variables"`
}

// readReport connects to addr, retrying for up to 10s while the child
// starts, and decodes its report.
func readReport(t *testing.T, ns *netns, addr string) childReport {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := ns.dial("tcp", addr)
		if err == nil {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			line, rerr := bufio.NewReader(c).ReadBytes('\n')
			c.Close()
			var r childReport
			if rerr == nil && json.Unmarshal(line, &r) == nil {
				return r
			}
			err = fmt.Errorf("read report: %v: %q", rerr, line)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no report from the child at %s within 10s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func execConfig(name string, command []string, listen ...string) string {
	q := func(ss []string) string {
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(out, ", ") + "]"
	}
	return fmt.Sprintf("\n[[service]]\nname = %q\nkind = \"exec\"\nlisten = %s\ncommand = %s\n", name, q(listen), q(command))
}

// TestExecChildSockets runs the activated test program as an exec child,
// directly and through a shell that execs it. In both, LISTEN_PID must be
// the child's own pid, not the server's; descriptors 3 and 4 must be the
// two sockets in the order of the config; LISTEN_FDNAMES must name each;
// and the child must have no other descriptor of the server.
func TestExecChildSockets(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	prog := buildTool(t, "activated")
	helper := installHelper(t, "cap_net_bind_service=+ep")
	commands := map[string][]string{
		"direct":     {prog},
		"shell exec": {"/bin/sh", "-c", `exec "$0"`, prog},
	}
	for _, name := range []string{"direct", "shell exec"} {
		t.Run(name, func(t *testing.T) {
			ns := newNetns(t)
			srv := startServer(t, ns, nobodyUID, helper, execConfig("act", commands[name], "tcp://127.0.0.1:700", "tcp://[::1]:701"))
			r := readReport(t, ns, "127.0.0.1:700")
			if r.ListenPID != strconv.Itoa(r.PID) {
				t.Errorf("LISTEN_PID %s, want the child's pid %d", r.ListenPID, r.PID)
			}
			if r.ListenPID == strconv.Itoa(srv.pid) {
				t.Errorf("LISTEN_PID is the server's pid %d", srv.pid)
			}
			if r.ListenFDs != "2" {
				t.Errorf("LISTEN_FDS %s, want 2", r.ListenFDs)
			}
			if r.ListenNames != "act:act" {
				t.Errorf("LISTEN_FDNAMES %q, want act:act", r.ListenNames)
			}
			if want := []string{"127.0.0.1:700", "[::1]:701"}; !slices.Equal(r.Addresses, want) {
				t.Errorf("descriptors 3 and 4 are %v, want %v", r.Addresses, want)
			}
			for _, fd := range []int{3, 4} {
				if !strings.HasPrefix(r.OpenFDs[fd], "socket:") {
					t.Errorf("child descriptor %d is %q, want a socket", fd, r.OpenFDs[fd])
				}
			}
			// Anything above 4 must be the child's own Go runtime: its
			// cgroup files and its poller. Nothing of the server.
			for fd, link := range r.OpenFDs {
				own := strings.HasPrefix(link, "/sys/fs/cgroup/") || strings.HasPrefix(link, "anon_inode:")
				if fd > 4 && !own {
					t.Errorf("child started with descriptor %d (%s), want none of the server's", fd, link)
				}
			}
			if r2 := readReport(t, ns, "[::1]:701"); r2.PID != r.PID {
				t.Errorf("[::1]:701 is served by pid %d, want the same child %d", r2.PID, r.PID)
			}
			if env := childEnvOf(r.PID); strings.Contains(env, "NOTIFY_SOCKET=") {
				t.Errorf("child environment holds NOTIFY_SOCKET: %s", env)
			}
		})
	}
}

// childEnvOf returns the environment process pid started with.
func childEnvOf(pid int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	return strings.ReplaceAll(string(data), "\x00", " ")
}

// TestExecSystemdSocketProxyd runs systemd-socket-proxyd, a real
// socket-activated program, as an exec child on port 80 in front of an
// http service on a high port.
func TestExecSystemdSocketProxyd(t *testing.T) {
	requireRoot(t)
	proxyd := "/usr/lib/systemd/systemd-socket-proxyd"
	if _, err := os.Stat(proxyd); err != nil {
		t.Fatalf("%s not found: install the systemd package", proxyd)
	}
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	config := `
[[service]]
name = "web"
kind = "http"
listen = ["tcp://127.0.0.1:8080"]
` + execConfig("proxyd", []string{proxyd, "127.0.0.1:8080"}, "tcp://127.0.0.1:80")
	startServer(t, ns, nobodyUID, helper, config)
	var out, errOut string
	code := -1
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, errOut, code = ns.output(nobodyUID, "curl", "-sS", "--max-time", "5", "http://127.0.0.1:80/")
		if code == 0 {
			break
		}
	}
	if code != 0 || !strings.Contains(out, "portgate is running") {
		t.Errorf("curl through systemd-socket-proxyd on port 80: exit %d %s\n%s", code, errOut, out)
	}
}

// TestExecRestartAndRemove runs a child that exits after a moment: the
// server starts it again, each time as a new process. Removing the
// service stops the child and frees its port.
func TestExecRestartAndRemove(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	prog := buildTool(t, "activated")
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	m := startManaged(t, ns, helper, "", "")
	m.mustCtl(t, "add", "--file", writeSnippet(t, m.dir, execConfig("flaky", []string{prog, "-exit-after", "300ms"}, "tcp://127.0.0.1:700")))
	pids := map[int]bool{}
	for deadline := time.Now().Add(15 * time.Second); len(pids) < 3 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		c, err := ns.dial("tcp", "127.0.0.1:700")
		if err != nil {
			continue
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		line, _ := bufio.NewReader(c).ReadBytes('\n')
		c.Close()
		var r childReport
		if json.Unmarshal(line, &r) == nil {
			pids[r.PID] = true
		}
	}
	if len(pids) < 3 {
		t.Fatalf("saw children %v within 15s, want 3 restarts", pids)
	}
	if n := strings.Count(m.log.String(), `"message":"exec child exited"`); n < 2 {
		t.Errorf("log shows %d child exits, want at least 2", n)
	}

	m.mustCtl(t, "add", "--file", writeSnippet(t, m.dir, execConfig("steady", []string{prog}, "tcp://127.0.0.1:701")))
	child := readReport(t, ns, "127.0.0.1:701").PID
	m.mustCtl(t, "remove", "steady")
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", child)); err == nil {
		st := procStatus(child)
		if !strings.HasPrefix(st["State"], "Z") {
			t.Errorf("child %d still runs after remove (state %s)", child, st["State"])
		}
	}
	l, err := ns.listen("tcp", "127.0.0.1:701")
	if err != nil {
		t.Fatalf("bind 127.0.0.1:701 after removing the exec service: %v, want it free", err)
	}
	l.Close()
}

// writeSnippet writes a TOML snippet for ctl add --file and returns its path.
func writeSnippet(t *testing.T, dir, text string) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "snippet-*.toml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(text)
	os.Chmod(f.Name(), 0o644)
	return f.Name()
}

// TestExecChildNoStrayDescriptor starts the server with a pipe at
// descriptor 3 that it must leave alone (LISTEN_PID names another
// process) and that lacks close-on-exec. The exec child must not get it.
func TestExecChildNoStrayDescriptor(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	prog := buildTool(t, "activated")
	helper := installHelper(t, "cap_net_bind_service=+ep")
	ns := newNetns(t)
	argv := append([]string{buildTool(t, "fdpass"), "-pid", "other", "pipe", "--"}, serveArgv(t, helper, execConfig("act", []string{prog}, "tcp://127.0.0.1:700"))...)
	srv, err := startParent(t, ns, argv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l := fdLink(srv.pid, 3); !strings.HasPrefix(l, "pipe:") {
		t.Fatalf("server descriptor 3 is %q, want the untouched pipe", l)
	}
	r := readReport(t, ns, "127.0.0.1:700")
	for fd, link := range r.OpenFDs {
		if link == fdLink(srv.pid, 3) {
			t.Errorf("child got the server's stray pipe as descriptor %d", fd)
		}
	}
	if env := childEnvOf(r.PID); strings.Contains(env, "LISTEN_PID=1 ") || !strings.Contains(env, "LISTEN_PID="+strconv.Itoa(r.PID)) {
		t.Errorf("child environment %q, want LISTEN_PID=%d and not the server's stale value", env, r.PID)
	}
}

// TestExecGrandchildAdoptsNothing runs an exec child that starts a
// grandchild with the environment it was given, LISTEN_* included. The
// grandchild sees a LISTEN_PID that is not its own and so adopts nothing,
// and it gets none of the sockets.
func TestExecGrandchildAdoptsNothing(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	prog := buildTool(t, "activated")
	helper := installHelper(t, "cap_net_bind_service=+ep")
	ns := newNetns(t)
	startServer(t, ns, nobodyUID, helper, execConfig("c", []string{prog, "-spawn"}, "tcp://127.0.0.1:700"))
	r := readReport(t, ns, "127.0.0.1:700")
	if r.ListenPID != strconv.Itoa(r.PID) || r.ListenFDs != "1" {
		t.Errorf("child LISTEN_PID %s LISTEN_FDS %s, want its own pid %d and 1", r.ListenPID, r.ListenFDs, r.PID)
	}
	g := r.Grandchild
	if g == nil {
		t.Fatal("no grandchild report")
	}
	if g.ListenPID == strconv.Itoa(g.PID) {
		t.Errorf("grandchild sees LISTEN_PID %s, its own pid", g.ListenPID)
	}
	if g.Adopted != 0 {
		t.Errorf("grandchild would adopt %d sockets, want 0", g.Adopted)
	}
	for fd, link := range g.OpenFDs {
		if strings.HasPrefix(link, "socket:") {
			t.Errorf("grandchild has socket %s at descriptor %d, want none", link, fd)
		}
	}
}

// TestExecChildEndsWithKilledServer kills the server with SIGKILL: its
// exec child must end too and free the port, so that a new server can
// bind it.
func TestExecChildEndsWithKilledServer(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	prog := buildTool(t, "activated")
	helper := installHelper(t, "cap_net_bind_service=+ep")
	ns := newNetns(t)
	config := execConfig("act", []string{prog}, "tcp://127.0.0.1:700")
	srv := startServer(t, ns, nobodyUID, helper, config)
	child := readReport(t, ns, "127.0.0.1:700").PID
	// A child left behind would hold the test's output open.
	t.Cleanup(func() { unix.Kill(child, unix.SIGKILL) })
	if err := unix.Kill(srv.pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, srv.pid)
	waitGone(t, child)
	startServer(t, ns, nobodyUID, helper, config)
	if r := readReport(t, ns, "127.0.0.1:700"); r.PID == child {
		t.Errorf("port 700 is still served by the old child %d", child)
	}
}
