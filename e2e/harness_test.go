package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portgate/portgate/e2e/pgclient/report"
)

// Unprivileged identities the tests run as. 65534 is nobody on Debian;
// 4242 has no account, which the kernel does not mind.
const (
	nobodyUID = 65534
	otherUID  = 4242
)

// bins holds the paths of the binaries TestMain built, in a directory that
// every user can read and search.
var bins struct {
	dir        string
	portgate   string
	helper     string
	pgclient   string
	policyPath string
	buildErr   error
}

// hostNetns is the network namespace the tests started in.
var hostNetns string

func TestMain(m *testing.M) {
	// Keep the main thread to this goroutine. netns.dial moves a locked
	// thread into a test namespace for good, and the runtime cannot end the
	// main thread, so no test may ever run on it.
	runtime.LockOSThread()
	hostNetns, _ = os.Readlink("/proc/self/ns/net")
	if os.Geteuid() == 0 {
		bins.buildErr = build()
	}
	code := m.Run()
	if bins.dir != "" {
		os.RemoveAll(bins.dir)
	}
	os.Exit(code)
}

func build() error {
	dir, err := os.MkdirTemp("", "portgate-e2e-")
	if err != nil {
		return err
	}
	bins.dir = dir
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(dir, "etc"), 0o755); err != nil {
		return err
	}
	bins.policyPath = filepath.Join(dir, "etc", "helper.toml")
	bins.portgate = filepath.Join(dir, "portgate")
	bins.helper = filepath.Join(dir, "portgate-helper")
	bins.pgclient = filepath.Join(dir, "pgclient")
	ldflags := "-X github.com/portgate/portgate/helper.PolicyPath=" + bins.policyPath
	for _, b := range []struct{ out, pkg string }{
		{bins.portgate, "../cmd/portgate"},
		{bins.helper, "../cmd/portgate-helper"},
		{bins.pgclient, "./pgclient"},
	} {
		cmd := exec.Command("go", "build", "-ldflags", ldflags, "-o", b.out, b.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return nil
}

// requireRoot skips the test without root, or fails it when CI=true.
func requireRoot(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("end-to-end tests run on Linux only")
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("end-to-end tests need root, and CI=true forbids skipping them: run the tests as root")
		}
		t.Skip("end-to-end tests need root to set a file capability and create a network namespace: run them as root")
	}
	for _, tool := range []string{"unshare", "nsenter", "setpriv", "setcap", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install util-linux, libcap2-bin and iproute2", tool)
		}
	}
	if bins.buildErr != nil {
		t.Fatalf("building the binaries failed: %v", bins.buildErr)
	}
}

// writePolicy replaces the policy that the test helpers read.
func writePolicy(t *testing.T, text string) {
	t.Helper()
	if err := os.WriteFile(bins.policyPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(bins.policyPath, 0o644); err != nil {
		t.Fatal(err)
	}
}

// installHelper copies the helper into a fresh directory every user can
// reach and gives it caps (for example "cap_net_bind_service=+ep"), or no
// capability when caps is empty. It returns the copy's path.
func installHelper(t *testing.T, caps string) string {
	t.Helper()
	dir := publicDir(t)
	path := filepath.Join(dir, "portgate-helper")
	copyFile(t, bins.helper, path, 0o755)
	if caps != "" {
		run(t, "setcap", caps, path)
	}
	return path
}

func publicDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp(bins.dir, "t-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(to, mode); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// netns is a private network namespace, held open by a sleeping process.
type netns struct {
	t   *testing.T
	pid int
	// stateDir is where commands in the namespace keep state: it is their
	// STATE_DIRECTORY and RUNTIME_DIRECTORY, so that no server under test
	// reads or writes the host's /var/lib/portgate or /run/portgate.
	stateDir string
}

// newNetns creates a network namespace with the loopback interface up. It
// is removed when the test ends.
func newNetns(t *testing.T) *netns {
	t.Helper()
	// The shell prints only once unshare has made the namespace, and then
	// becomes the sleeper that holds it.
	cmd := exec.Command("unshare", "--net", "--", "sh", "-c", "echo ready; exec sleep 600")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("unshare: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
	}()
	select {
	case line := <-ready:
		if line != "ready\n" {
			t.Fatalf("unshare --net failed: %q", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("unshare did not create a network namespace within 5s")
	}
	ns := &netns{t: t, pid: cmd.Process.Pid, stateDir: publicDir(t)}
	// Like /tmp: every test user may create files, and only remove its own.
	if err := os.Chmod(ns.stateDir, os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	theirs, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", ns.pid))
	if theirs == "" || theirs == hostNetns {
		t.Fatalf("namespace holder %d is in %q, the host's namespace is %q: refusing to configure the host", ns.pid, theirs, hostNetns)
	}
	ns.run("ip", "link", "set", "lo", "up")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(ns.run("ip", "-4", "addr", "show", "dev", "lo"), "127.0.0.1/8") {
		if time.Now().After(deadline) {
			t.Fatal("127.0.0.1 did not appear on lo within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The kernel adds ::1 to lo when the link comes up, but not always at
	// once; after a second the test adds it itself.
	added := false
	for start := time.Now(); !strings.Contains(ns.run("ip", "-6", "addr", "show", "dev", "lo"), "::1/128"); {
		if !added && time.Since(start) > time.Second {
			ns.command(0, "ip", "-6", "addr", "add", "::1/128", "dev", "lo").Run()
			added = true
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("::1 did not appear on lo within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return ns
}

// command returns a command that runs inside the namespace as uid (and gid
// equal to uid), or as root when uid is 0. groups, when set, are the
// supplementary groups of the command.
func (ns *netns) command(uid int, name string, args ...string) *exec.Cmd {
	return ns.commandGroups(uid, nil, name, args...)
}

func (ns *netns) commandGroups(uid int, groups []int, name string, args ...string) *exec.Cmd {
	argv := []string{"-t", strconv.Itoa(ns.pid), "-n", "--"}
	if uid != 0 {
		groupArg := "--clear-groups"
		if len(groups) > 0 {
			var ids []string
			for _, g := range groups {
				ids = append(ids, strconv.Itoa(g))
			}
			groupArg = "--groups=" + strings.Join(ids, ",")
		}
		argv = append(argv, "setpriv", "--reuid="+strconv.Itoa(uid), "--regid="+strconv.Itoa(uid), groupArg, "--")
	}
	argv = append(argv, name)
	argv = append(argv, args...)
	cmd := exec.Command("nsenter", argv...)
	// A process left behind that holds the output pipes must not make
	// Wait hang: the test that left it fails on its own assertions.
	cmd.WaitDelay = 10 * time.Second
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"STATE_DIRECTORY=" + ns.stateDir, "RUNTIME_DIRECTORY=" + ns.stateDir}
	return cmd
}

// run runs a command as root inside the namespace and fails the test if it fails.
func (ns *netns) run(name string, args ...string) string {
	ns.t.Helper()
	cmd := ns.command(0, name, args...)
	done := timeoutKill(cmd, 30*time.Second)
	out, err := cmd.CombinedOutput()
	done()
	if err != nil {
		ns.t.Fatalf("in netns: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// output runs a command inside the namespace as uid and returns its
// standard output, standard error and exit code.
func (ns *netns) output(uid int, name string, args ...string) (string, string, int) {
	ns.t.Helper()
	return ns.outputGroups(uid, nil, name, args...)
}

// outputGroups is output with groups as the supplementary groups of the
// command.
func (ns *netns) outputGroups(uid int, groups []int, name string, args ...string) (string, string, int) {
	ns.t.Helper()
	cmd := ns.commandGroups(uid, groups, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := timeoutKill(cmd, 60*time.Second)
	err := cmd.Run()
	done()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			ns.t.Fatalf("run %s: %v", name, err)
		}
		code = ee.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}

// timeoutKill kills cmd if it is still running after d. Call the returned
// function once cmd has finished.
func timeoutKill(cmd *exec.Cmd, d time.Duration) func() {
	stop := make(chan struct{})
	go func() {
		select {
		case <-time.After(d):
			if cmd.Process != nil {
				cmd.Process.Kill()
			}
		case <-stop:
		}
	}()
	return func() { close(stop) }
}

// dial connects from inside the namespace. The socket is created on an OS
// thread that joined the namespace; once created it stays in it.
func (ns *netns) dial(network, address string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// The thread never leaves the namespace, so it is not unlocked:
		// the runtime ends it when this goroutine returns.
		runtime.LockOSThread()
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", ns.pid))
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, fmt.Errorf("setns: %w", err)}
			return
		}
		c, err := net.DialTimeout(network, address, 5*time.Second)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// server is a running `portgate serve`.
type server struct {
	cmd *exec.Cmd
	log *processLog
	pid int
}

// startServer runs portgate serve as uid in ns with the given config text
// and helper, and waits until it logs "server ready".
func startServer(t *testing.T, ns *netns, uid int, helperPath, config string) *server {
	t.Helper()
	s, err := tryStartServer(t, ns, uid, helperPath, config)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// startServerArgs is startServer with extra arguments for portgate serve.
func startServerArgs(t *testing.T, ns *netns, uid int, helperPath, config string, extra ...string) *server {
	t.Helper()
	s, err := tryStartServer(t, ns, uid, helperPath, config, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tryStartServer(t *testing.T, ns *netns, uid int, helperPath, config string, extra ...string) (*server, error) {
	t.Helper()
	dir := publicDir(t)
	cfgPath := filepath.Join(dir, "portgate.toml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"serve", "--config", cfgPath, "--helper", helperPath, "--log-level", "debug"}, extra...)
	s, err := superviseServer(t, ns.command(uid, bins.portgate, args...), nil)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// superviseServer starts cmd, which is or execs portgate serve, stops it
// with SIGTERM when the test ends, and waits up to 15s until it logs
// "server ready". When poke is set, it is called while the server is not
// ready yet, for parents that wait for a first connection. The server is
// returned even with an error, for its log.
func superviseServer(t *testing.T, cmd *exec.Cmd, poke func()) (*server, error) {
	t.Helper()
	w := newProcessLog(t)
	s := &server{cmd: cmd, log: w}
	cmd.Stdout, cmd.Stderr = w.file, w.file
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	s.pid = cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(unix.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("portgate log:\n%s", w.String())
		}
	})
	deadline := time.After(15 * time.Second)
	for {
		if strings.Contains(w.String(), `"server ready"`) {
			return s, nil
		}
		if poke != nil {
			poke()
		}
		select {
		case err := <-exited:
			exited <- err
			return s, fmt.Errorf("portgate serve exited before it was ready (%v):\n%s", err, w.String())
		case <-deadline:
			return s, fmt.Errorf("portgate serve not ready after 15s:\n%s", w.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// childrenOf returns the pids whose parent is pid.
func childrenOf(pid int) []int {
	var kids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := procStatus(n)["PPid"]; ok && st == strconv.Itoa(pid) {
			kids = append(kids, n)
		}
	}
	return kids
}

// procStatus returns the fields of /proc/PID/status.
func procStatus(pid int) map[string]string {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// openFDs counts the descriptors of process pid.
func openFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("count descriptors of %d: %v", pid, err)
	}
	return len(ents)
}

// clientResult is one line of pgclient output.
type clientResult = report.Result

// runClient runs pgclient as uid in ns and returns its results.
func runClient(t *testing.T, ns *netns, uid int, args ...string) []clientResult {
	t.Helper()
	return runClientGroups(t, ns, uid, nil, args...)
}

// runClientGroups is runClient with groups as the client's supplementary
// groups.
func runClientGroups(t *testing.T, ns *netns, uid int, groups []int, args ...string) []clientResult {
	t.Helper()
	stdout, stderr, code := ns.outputGroups(uid, groups, bins.pgclient, args...)
	if code != 0 {
		t.Fatalf("pgclient %v exited %d:\n%s%s", args, code, stdout, stderr)
	}
	var rs []clientResult
	dec := json.NewDecoder(strings.NewReader(stdout))
	for dec.More() {
		var r clientResult
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("pgclient output: %v\n%s", err, stdout)
		}
		rs = append(rs, r)
	}
	if t.Failed() || len(rs) == 0 {
		t.Logf("pgclient stderr:\n%s", stderr)
	}
	return rs
}

// processLog keeps the output of a process in a file that the process
// writes to directly. Output through a pipe reaches the test only when a
// goroutine copies it, so a line written before an event that the test
// observes, such as an exit, could still be missing from a pipe's copy.
type processLog struct {
	file *os.File
}

// newProcessLog creates an empty log, which lasts until the test ends.
func newProcessLog(t *testing.T) *processLog {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(t.TempDir(), "output"), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatalf("create process log: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return &processLog{file: f}
}

// String returns everything the process has written so far.
func (l *processLog) String() string {
	data, err := os.ReadFile(l.file.Name())
	if err != nil {
		return fmt.Sprintf("(cannot read the process log: %v)", err)
	}
	return string(data)
}
