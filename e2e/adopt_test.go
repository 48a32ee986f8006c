package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var tools struct {
	mu    sync.Mutex
	paths map[string]string
}

// buildTool builds the test program in the e2e folder NAME once and returns
// its path.
func buildTool(t *testing.T, name string) string {
	t.Helper()
	tools.mu.Lock()
	defer tools.mu.Unlock()
	if p, ok := tools.paths[name]; ok {
		return p
	}
	path := filepath.Join(bins.dir, name)
	cmd := exec.Command("go", "build", "-o", path, "./"+name)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, out)
	}
	if tools.paths == nil {
		tools.paths = map[string]string{}
	}
	tools.paths[name] = path
	return path
}

// serveArgv returns the command line that runs portgate serve as nobody
// with config written to a fresh file, for a parent that runs as root in
// the namespace and execs it.
func serveArgv(t *testing.T, helper, config string) []string {
	t.Helper()
	cfgPath := filepath.Join(publicDir(t), "portgate.toml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	uid := strconv.Itoa(nobodyUID)
	return []string{"setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups", "--",
		bins.portgate, "serve", "--config", cfgPath, "--helper", helper, "--log-level", "debug"}
}

// startParent runs argv as root in ns, a parent that ends by exec'ing
// portgate serve, and returns the server once ready. When poke is set, it
// is called until the server is ready, for parents that wait for a first
// connection.
func startParent(t *testing.T, ns *netns, argv []string, poke func()) (*server, error) {
	t.Helper()
	return superviseServer(t, ns.command(0, argv[0], argv[1:]...), poke)
}

// fdLink returns what descriptor fd of pid points to, or "".
func fdLink(pid, fd int) string {
	l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd))
	return l
}

// fdFlags returns the flags line of /proc/PID/fdinfo/FD.
func fdFlags(pid, fd int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%d", pid, fd))
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "flags:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

const webAndEcho = `
[[service]]
name = "web"
kind = "http"
listen = ["tcp://127.0.0.1:80"]

[[service]]
name = "echo"
kind = "echo"
listen = ["tcp://[::1]:700"]
`

// TestAdoptFromSystemdSocketActivate starts the server under
// systemd-socket-activate with two named sockets. The server must serve on
// both without binding anything itself, so no helper starts.
func TestAdoptFromSystemdSocketActivate(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("systemd-socket-activate"); err != nil {
		t.Fatal("systemd-socket-activate not found: install the systemd package")
	}
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	argv := append([]string{"systemd-socket-activate", "-l", "127.0.0.1:80", "-l", "[::1]:700", "--fdname=web:echo"}, serveArgv(t, helper, webAndEcho)...)
	// systemd-socket-activate starts the server on the first connection,
	// which then waits in the backlog until the server accepts it.
	firstDone := make(chan struct{})
	var first []byte
	var firstErr error
	var once sync.Once
	srv, err := startParent(t, ns, argv, func() {
		once.Do(func() {
			go func() {
				defer close(firstDone)
				first, firstErr = firstRequest(ns, "127.0.0.1:80")
			}()
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := echoVia(ns, "[::1]:700", "activated"); err != nil || got != "activated" {
		t.Errorf("echo on the inherited [::1]:700: got %q, %v", got, err)
	}
	out, errOut, code := ns.output(nobodyUID, "curl", "-sS", "--max-time", "5", "http://127.0.0.1:80/")
	if code != 0 || !strings.Contains(out, "portgate is running") {
		t.Errorf("curl on the inherited 127.0.0.1:80: exit %d %s\n%s", code, errOut, out)
	}
	if !strings.Contains(out, "<td>127.0.0.1:80</td>") {
		t.Errorf("welcome page does not list the inherited address 127.0.0.1:80:\n%s", out)
	}
	log := srv.log.String()
	for _, want := range []string{`"fd":3,"fd_name":"web"`, `"fd":4,"fd_name":"echo"`} {
		if !strings.Contains(log, want) {
			t.Errorf("log does not show the adoption %s", want)
		}
	}
	if strings.Contains(log, `"from_helper":true`) {
		t.Error("a socket came from the helper, want every socket inherited")
	}
	if kids := childrenOf(srv.pid); len(kids) != 0 {
		t.Errorf("server has children %v, want none: the helper must not start", kids)
	}
	select {
	case <-firstDone:
	case <-time.After(20 * time.Second):
		t.Fatal("the first request did not finish within 20s")
	}
	if firstErr != nil || !bytes.Contains(first, []byte("portgate is running")) {
		t.Errorf("the first connection, made before the server ran: %v\n%s", firstErr, first)
	}
}

// logHas reports whether one line of log contains every part.
func logHas(log string, parts ...string) bool {
	for _, line := range strings.Split(log, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

// socketPort returns the local port of the TCP socket of process pid with
// the link text "socket:[INODE]", or 0.
func socketPort(pid int, link string) int {
	inode := strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")
	for _, table := range []string{"tcp", "tcp6"} {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) > 9 && f[9] == inode {
				_, portHex, _ := strings.Cut(f[1], ":")
				port, _ := strconv.ParseInt(portHex, 16, 32)
				return int(port)
			}
		}
	}
	return 0
}

// firstRequest connects to addr, retrying while nothing listens there yet
// for up to 10s, and returns the reply to an HTTP/1.0 GET.
func firstRequest(ns *netns, addr string) ([]byte, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := ns.dial("tcp", addr)
		if err != nil {
			if time.Now().After(deadline) {
				return nil, err
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		fmt.Fprintf(c, "GET / HTTP/1.0\r\n\r\n")
		var buf bytes.Buffer
		_, err = buf.ReadFrom(c)
		return buf.Bytes(), err
	}
}

// TestAdoptListenPIDMismatch passes two listening sockets at 3 and 4 with
// LISTEN_PID naming another process, with LISTEN_PID unset, and with
// LISTEN_PID naming the server. In the first two runs the server must
// adopt nothing, acquire its ports itself, and leave 3 and 4 open with
// their flags; in the third it adopts exactly two sockets.
func TestAdoptListenPIDMismatch(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	config := `
[[service]]
name = "echo"
kind = "echo"
listen = ["tcp://127.0.0.1:700", "tcp://127.0.0.1:701"]
`
	for _, pid := range []string{"other", "unset", "self"} {
		t.Run(pid, func(t *testing.T) {
			ns := newNetns(t)
			specs := []string{"tcp-listen=127.0.0.1:700", "tcp-listen=127.0.0.1:701"}
			if pid != "self" {
				// Sockets on other ports, so the server's own binds work.
				specs = []string{"tcp-listen=127.0.0.1:9700", "tcp-listen=127.0.0.1:9701"}
			}
			argv := append([]string{buildTool(t, "fdpass"), "-pid", pid}, specs...)
			argv = append(argv, "--")
			argv = append(argv, serveArgv(t, helper, config)...)
			srv, err := startParent(t, ns, argv, nil)
			if err != nil {
				t.Fatal(err)
			}
			log := srv.log.String()
			adopted := strings.Count(log, `"inherited socket adopted"`)
			for _, addr := range []string{"127.0.0.1:700", "127.0.0.1:701"} {
				if got, err := echoVia(ns, addr, pid); err != nil || got != pid {
					t.Errorf("echo on %s: got %q, %v", addr, got, err)
				}
			}
			if pid == "self" {
				if adopted != 2 {
					t.Errorf("adopted %d sockets, want 2", adopted)
				}
				if strings.Contains(log, `"from_helper":true`) {
					t.Error("a socket came from the helper, want both inherited")
				}
				return
			}
			if adopted != 0 {
				t.Errorf("adopted %d sockets with LISTEN_PID %s, want 0", adopted, pid)
			}
			if n := strings.Count(log, `"from_helper":true`); n != 2 {
				t.Errorf("%d sockets came from the helper, want 2", n)
			}
			for _, fd := range []int{3, 4} {
				if l := fdLink(srv.pid, fd); !strings.HasPrefix(l, "socket:") {
					t.Errorf("descriptor %d of the server is %q, want the untouched socket", fd, l)
				}
				// fdpass cleared close-on-exec (02000000); the flags must
				// be as it left them: O_RDWR (02) only.
				if f := fdFlags(srv.pid, fd); f != "02" {
					t.Errorf("descriptor %d flags %s, want 02 (unchanged, not close-on-exec)", fd, f)
				}
			}
		})
	}
}

// TestAdoptChecksEveryDescriptor passes one descriptor of each kind, and
// declares one more than it opens. Only the listening TCP socket and the
// UDP socket may be adopted. The other sockets are rejected and closed,
// the pipe, the file and the missing descriptor are rejected and left
// alone, each with an error that names the descriptor, and the server
// serves on.
func TestAdoptChecksEveryDescriptor(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	ns := newNetns(t)
	dir := publicDir(t)
	file := filepath.Join(dir, "plain.txt")
	os.WriteFile(file, []byte("not a socket"), 0o644)
	config := `
[[service]]
name = "echo"
kind = "echo"
listen = ["tcp://127.0.0.1:700", "udp://127.0.0.1:700"]
`
	specs := []string{
		"tcp-listen=127.0.0.1:700",          // 3: adopted
		"tcp-connected=127.0.0.1:9801",      // 4: rejected, closed
		"tcp-bound=127.0.0.1:9802",          // 5: rejected, closed
		"udp=127.0.0.1:700",                 // 6: adopted
		"unix-listen=" + dir + "/unix.sock", // 7: rejected, closed
		"pipe",                              // 8: rejected, untouched
		"file=" + file,                      // 9: rejected, untouched
	}
	argv := append([]string{buildTool(t, "fdpass"), "-count", "8"}, specs...)
	argv = append(argv, "--")
	argv = append(argv, serveArgv(t, helper, config)...)
	srv, err := startParent(t, ns, argv, nil)
	if err != nil {
		t.Fatal(err)
	}
	log := srv.log.String()
	if n := strings.Count(log, `"inherited socket adopted"`); n != 2 {
		t.Errorf("adopted %d sockets, want 2", n)
	}
	for fd := 4; fd <= 10; fd++ {
		if fd == 6 {
			continue
		}
		if !logHas(log, fmt.Sprintf(`"fd":%d,`, fd), fmt.Sprintf("inherited descriptor %d", fd), `"message":"inherited descriptor rejected"`) {
			t.Errorf("log does not reject descriptor %d with an error that names it", fd)
		}
	}
	if strings.Contains(log, `"from_helper":true`) {
		t.Error("a socket came from the helper, want both from the inherited descriptors")
	}
	if got, err := echoVia(ns, "127.0.0.1:700", "tcp"); err != nil || got != "tcp" {
		t.Errorf("echo over the inherited TCP socket: got %q, %v", got, err)
	}
	c, err := ns.dial("udp", "127.0.0.1:700")
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("udp"))
	buf := make([]byte, 8)
	n, err := c.Read(buf)
	c.Close()
	if err != nil || string(buf[:n]) != "udp" {
		t.Errorf("echo over the inherited UDP socket: got %q, %v", buf[:n], err)
	}
	for _, fd := range []int{4, 5, 7} {
		if !logHas(log, fmt.Sprintf("inherited descriptor %d rejected and closed", fd)) {
			t.Errorf("log does not say that descriptor %d was closed", fd)
		}
	}
	if l := fdLink(srv.pid, 8); !strings.HasPrefix(l, "pipe:") {
		t.Errorf("descriptor 8 is %q, want the untouched pipe", l)
	}
	if l := fdLink(srv.pid, 9); l != file {
		t.Errorf("descriptor 9 is %q, want the untouched file %s", l, file)
	}
}

// TestAdoptUnusedSocketReleased passes sockets for addresses a and b while
// the config lists a only: the socket of b is closed once the server is
// ready, so b refuses connections, and adding b later binds it again.
func TestAdoptUnusedSocketReleased(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	ns := newNetns(t)
	dir := nobodyDir(t)
	config := fmt.Sprintf(`
[manager]
socket = %q
services_file = %q

[[service]]
name = "a"
kind = "echo"
listen = ["tcp://127.0.0.1:700"]
`, filepath.Join(dir, "manager.sock"), filepath.Join(dir, "services.toml"))
	argv := append([]string{buildTool(t, "fdpass"), "-names", "a:b", "tcp-listen=127.0.0.1:700", "tcp-listen=127.0.0.1:701", "--"}, serveArgv(t, helper, config)...)
	srv, err := startParent(t, ns, argv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !logHas(srv.log.String(), `"fd":4,"fd_name":"b","address":"127.0.0.1:701"`, `"message":"inherited socket matches no service: closed"`) {
		t.Error("log does not report closing the unused socket of b")
	}
	if c, err := ns.dial("tcp", "127.0.0.1:701"); err == nil {
		c.Close()
		t.Error("dial b succeeded, want refused once the server is ready")
	}
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", srv.pid))
	for _, e := range ents {
		fd, _ := strconv.Atoi(e.Name())
		if l := fdLink(srv.pid, fd); strings.HasPrefix(l, "socket:") && socketPort(srv.pid, l) == 701 {
			t.Errorf("server descriptor %d is the socket of b (%s), want it closed", fd, l)
		}
	}
	m := &managed{server: srv, ns: ns, dir: dir, socket: filepath.Join(dir, "manager.sock")}
	m.mustCtl(t, "add", "--name", "b", "--kind", "echo", "--listen", "tcp://127.0.0.1:701")
	if got, err := echoVia(ns, "127.0.0.1:701", "b"); err != nil || got != "b" {
		t.Errorf("echo on b after adding it back: got %q, %v", got, err)
	}
	if got, err := echoVia(ns, "127.0.0.1:700", "a"); err != nil || got != "a" {
		t.Errorf("echo on a: got %q, %v", got, err)
	}
}

// TestAdoptWithGapInDescriptors promises three descriptors but passes
// only 3 and 5, with 4 left free. Wrapping 3 makes a duplicate, which the
// kernel puts at 4: the server must not adopt that duplicate as a second
// listener, and so must not close a number that a listener still uses.
func TestAdoptWithGapInDescriptors(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	ns := newNetns(t)
	config := `
[[service]]
name = "web"
kind = "echo"
listen = ["tcp://127.0.0.1:700"]

[[service]]
name = "other"
kind = "echo"
listen = ["udp://127.0.0.1:701", "tcp://127.0.0.1:702"]
`
	// Without the cgroup settings the Go runtime opens no file at start
	// that could fill the gap.
	argv := []string{buildTool(t, "fdpass"), "-count", "3", "tcp-listen=127.0.0.1:700", "closed", "udp=127.0.0.1:701", "--",
		"env", "GODEBUG=containermaxprocs=0,updatemaxprocs=0"}
	srv, err := startParent(t, ns, append(argv, serveArgv(t, helper, config)...), nil)
	if err != nil {
		t.Fatal(err)
	}
	log := srv.log.String()
	if n := strings.Count(log, `"inherited socket adopted"`); n != 2 {
		t.Errorf("adopted %d sockets, want 2: descriptors 3 and 5", n)
	}
	if !logHas(log, `"fd":4,`, "inherited descriptor 4", `"message":"inherited descriptor rejected"`) {
		t.Error("log does not reject the missing descriptor 4 by number")
	}
	for round := 0; round < 20; round++ {
		for _, addr := range []string{"127.0.0.1:700", "127.0.0.1:702"} {
			if got, err := echoVia(ns, addr, "gap"); err != nil || got != "gap" {
				t.Fatalf("round %d: echo on %s: got %q, %v", round, addr, got, err)
			}
		}
	}
	for _, bad := range []string{"bad file descriptor", "invalid argument", "accept failed"} {
		if strings.Contains(srv.log.String(), bad) {
			t.Errorf("log contains %q", bad)
		}
	}
}
