package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	pgserver "github.com/portgate/portgate/server"
)

// managed is a running portgate serve with a Local Manager.
type managed struct {
	*server
	ns       *netns
	dir      string
	socket   string
	services string
}

// startManaged starts portgate serve as nobody with services and a
// [manager] table whose socket and services file live in a directory that
// nobody owns. dir may be "" for a fresh one.
func startManaged(t *testing.T, ns *netns, helper, dir, services string) *managed {
	t.Helper()
	if dir == "" {
		dir = nobodyDir(t)
	}
	m := &managed{ns: ns, dir: dir, socket: filepath.Join(dir, "manager.sock"), services: filepath.Join(dir, "services.toml")}
	config := fmt.Sprintf("shutdown_timeout = \"5s\"\n\n[manager]\nsocket = %q\nservices_file = %q\n\n%s", m.socket, m.services, services)
	m.server = startServer(t, ns, nobodyUID, helper, config)
	return m
}

// nobodyDir returns a fresh directory that nobody owns.
func nobodyDir(t *testing.T) string {
	t.Helper()
	dir := publicDir(t)
	if err := os.Chown(dir, nobodyUID, nobodyUID); err != nil {
		t.Fatal(err)
	}
	return dir
}

// ctl runs portgate ctl as uid against the Local Manager of m and returns
// its standard output, standard error and exit code.
func (m *managed) ctl(uid int, args ...string) (string, string, int) {
	m.ns.t.Helper()
	return m.ns.output(uid, bins.portgate, append([]string{"ctl", "--socket", m.socket}, args...)...)
}

// mustCtl runs portgate ctl as nobody and fails the test unless it exits 0.
func (m *managed) mustCtl(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := m.ctl(nobodyUID, args...)
	if code != 0 {
		t.Fatalf("portgate ctl %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// listen binds a socket inside the namespace, to show that a port is free.
func (ns *netns) listen(network, address string) (net.Listener, error) {
	var l net.Listener
	err := ns.do(func() error {
		var err error
		l, err = net.Listen(network, address)
		return err
	})
	return l, err
}

// do runs fn on an OS thread that joined the namespace. Sockets fn creates
// stay in the namespace. The thread is not unlocked, so the runtime ends
// it when fn returns.
func (ns *netns) do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", ns.pid))
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// loadResult counts the outcome of a load run.
type loadResult struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	firstErr   error
}

// runLoad sends HTTP GETs to url from workers goroutines, each on a new
// connection, until stop is closed, maxRequests have been sent or limit
// has passed, whichever comes first.
func runLoad(ns *netns, url string, workers int, maxRequests int64, limit time.Duration, stop <-chan struct{}) *loadResult {
	res := &loadResult{}
	client := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return ns.dial(network, addr)
			},
		},
	}
	deadline := time.Now().Add(limit)
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sent.Add(1) <= maxRequests && time.Now().Before(deadline) {
				select {
				case <-stop:
					return
				default:
				}
				err := getOnce(client, url)
				if err == nil {
					res.ok.Add(1)
					continue
				}
				res.failed.Add(1)
				res.mu.Lock()
				if res.firstErr == nil {
					res.firstErr = err
				}
				res.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return res
}

func getOnce(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

const serviceA = `
[[service]]
name = "a"
kind = "http"
listen = ["tcp://127.0.0.1:80"]
`

// TestCtlChurnUnderLoad adds and removes services b and c through portgate
// ctl 100 times while a steady load runs against service a. No request to
// a may fail, and after each removal the ports of b and c are free.
func TestCtlChurnUnderLoad(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	m := startManaged(t, ns, helper, "", serviceA)

	stop := make(chan struct{})
	done := make(chan *loadResult, 1)
	go func() { done <- runLoad(ns, "http://127.0.0.1:80/", 4, 200000, 3*time.Minute, stop) }()

	const rounds = 100
	for i := 0; i < rounds; i++ {
		m.mustCtl(t, "add", "--name", "b", "--kind", "echo", "--listen", "tcp://127.0.0.1:700")
		m.mustCtl(t, "add", "--name", "c", "--kind", "http", "--listen", "tcp://[::1]:8080", "--listen", "tcp://127.0.0.1:701")
		if got, err := echoVia(ns, "127.0.0.1:700", fmt.Sprintf("round %d", i)); err != nil || got != fmt.Sprintf("round %d", i) {
			t.Fatalf("round %d: echo through b: got %q, %v", i, got, err)
		}
		m.mustCtl(t, "remove", "b")
		m.mustCtl(t, "remove", "c")
		for _, addr := range []string{"127.0.0.1:700", "[::1]:8080", "127.0.0.1:701"} {
			l, err := ns.listen("tcp", addr)
			if err != nil {
				t.Fatalf("round %d: bind %s after removal: %v, want the port free", i, addr, err)
			}
			l.Close()
		}
	}
	close(stop)
	res := <-done
	t.Logf("%d rounds; %d requests to a succeeded, %d failed", rounds, res.ok.Load(), res.failed.Load())
	if n := res.failed.Load(); n != 0 {
		t.Errorf("%d requests to a failed during the churn, want 0; first: %v", n, res.firstErr)
	}
	if res.ok.Load() < rounds {
		t.Errorf("only %d requests to a succeeded, want a steady load of at least %d", res.ok.Load(), rounds)
	}
	saved, err := pgserver.LoadServicesFile(m.services)
	if err != nil || len(saved) != 0 {
		t.Errorf("services file after the churn: %+v, %v, want no services", saved, err)
	}
}

// echoVia sends msg to the echo service at addr in ns and returns the echo.
func echoVia(ns *netns, addr, msg string) (string, error) {
	c, err := ns.dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		return "", err
	}
	buf := make([]byte, len(msg))
	_, err = io.ReadFull(c, buf)
	return string(buf), err
}

// TestCtlRemoveDrains removes a service while two clients hold open
// connections: new connections are refused at once, one open connection
// finishes its work during the drain, and the other, still open at the
// drain deadline, is closed then.
func TestCtlRemoveDrains(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	m := startManaged(t, ns, helper, "", serviceA)
	m.mustCtl(t, "add", "--name", "b", "--kind", "echo", "--listen", "tcp://127.0.0.1:700", "--drain-timeout", "3s")

	var open [2]net.Conn
	for i := range open {
		c, err := ns.dial("tcp", "127.0.0.1:700")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		open[i] = c
	}
	for i, c := range open {
		if _, err := fmt.Fprintf(c, "hello %d", i); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, len("hello 0"))); err != nil {
			t.Fatalf("echo on connection %d before the removal: %v", i, err)
		}
	}

	type ctlResult struct {
		out, errOut string
		code        int
		took        time.Duration
	}
	removed := make(chan ctlResult, 1)
	start := time.Now()
	go func() {
		out, errOut, code := m.ctl(nobodyUID, "remove", "b")
		removed <- ctlResult{out, errOut, code, time.Since(start)}
	}()

	refusedAt := time.Duration(-1)
	for time.Since(start) < 2*time.Second {
		c, err := ns.dial("tcp", "127.0.0.1:700")
		if err != nil {
			refusedAt = time.Since(start)
			break
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	if refusedAt < 0 {
		t.Fatal("new connections to b were still accepted 2s after remove began, want them refused at once")
	}
	t.Logf("new connections refused %v after remove began", refusedAt)

	if _, err := io.WriteString(open[0], "during drain"); err != nil {
		t.Fatalf("write on open connection 0 during the drain: %v", err)
	}
	buf := make([]byte, len("during drain"))
	if _, err := io.ReadFull(open[0], buf); err != nil || string(buf) != "during drain" {
		t.Fatalf("echo on open connection 0 during the drain: got %q, %v", buf, err)
	}
	open[0].Close()

	var res ctlResult
	select {
	case res = <-removed:
	case <-time.After(15 * time.Second):
		t.Fatal("portgate ctl remove did not return within 15s")
	}
	if res.code != 0 {
		t.Fatalf("portgate ctl remove: exit %d\n%s%s", res.code, res.out, res.errOut)
	}
	if res.took < 3*time.Second || res.took > 8*time.Second {
		t.Errorf("remove took %v, want the 3s drain timeout (connection 1 stayed open)", res.took)
	}
	if !strings.Contains(res.errOut, "did not finish within the drain timeout of 3s") {
		t.Errorf("ctl remove stderr %q does not warn about the closed connection", res.errOut)
	}
	if _, err := bufio.NewReader(open[1]).ReadByte(); err == nil {
		t.Error("connection 1 is still open after the drain deadline, want it closed")
	}
	if _, _, code := m.ctl(nobodyUID, "show", "b"); code != 3 {
		t.Errorf("ctl show b after removal: exit %d, want 3 (no such service)", code)
	}
}

// TestCtlOutputAndExitCodes checks the tables, --json and the exit codes
// of portgate ctl.
func TestCtlOutputAndExitCodes(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	m := startManaged(t, ns, helper, "", serviceA)

	out := squeeze(m.mustCtl(t, "status"))
	for _, want := range []string{fmt.Sprintf("server pid: %d (uid 65534)", m.pid), "mechanism capability", "a running tcp://127.0.0.1:80 127.0.0.1:80 portgate-helper"} {
		if !strings.Contains(out, want) {
			t.Errorf("ctl status does not contain %q:\n%s", want, out)
		}
	}
	var st pgserver.ServerStatus
	if err := json.Unmarshal([]byte(m.mustCtl(t, "--json", "status")), &st); err != nil {
		t.Fatalf("ctl --json status: %v", err)
	}
	if st.PID != m.pid || st.Helper.PID == 0 || len(st.Services) != 1 || st.Services[0].Listeners[0].Address != "127.0.0.1:80" {
		t.Errorf("ctl --json status: %+v, want pid %d, a helper, and a on 127.0.0.1:80", st, m.pid)
	}

	snippet := filepath.Join(m.dir, "c.toml")
	os.WriteFile(snippet, []byte("# an operator's snippet\nname = \"c\"\nkind = \"echo\"\nlisten = [\"tcp://127.0.0.1:702\"]\n"), 0o644)
	m.mustCtl(t, "add", "--file", snippet)
	out = squeeze(m.mustCtl(t, "list"))
	for _, want := range []string{"NAME KIND STATE LISTEN ERROR", "a http running tcp://127.0.0.1:80", "c echo running tcp://127.0.0.1:702"} {
		if !strings.Contains(out, want) {
			t.Errorf("ctl list does not contain %q:\n%s", want, out)
		}
	}
	m.mustCtl(t, "stop", "c")
	if out := squeeze(m.mustCtl(t, "show", "c")); !strings.Contains(out, "state: stopped") {
		t.Errorf("ctl show c after stop:\n%s", out)
	}
	if _, err := ns.dial("tcp", "127.0.0.1:702"); err == nil {
		t.Error("dial c after ctl stop succeeded, want refused")
	}
	m.mustCtl(t, "start", "c")
	if got, err := echoVia(ns, "127.0.0.1:702", "c"); err != nil || got != "c" {
		t.Errorf("echo through c after ctl start: got %q, %v", got, err)
	}

	cases := []struct {
		name string
		uid  int
		args []string
		code int
		want string
	}{
		{"missing service", nobodyUID, []string{"show", "nope"}, 3, `service "nope": no such service`},
		{"duplicate add", nobodyUID, []string{"add", "--name", "c", "--kind", "echo", "--listen", "tcp://127.0.0.1:703"}, 1, "already exists"},
		{"invalid kind", nobodyUID, []string{"add", "--name", "d", "--kind", "ftp", "--listen", "tcp://127.0.0.1:21"}, 2, `unknown kind "ftp"`},
		{"missing flags", nobodyUID, []string{"add", "--name", "d"}, 2, "add needs --name, --kind and at least one --listen"},
		{"denied port", nobodyUID, []string{"add", "--name", "d", "--kind", "echo", "--listen", "tcp://127.0.0.1:81"}, 1, "denied by policy"},
		{"config service", nobodyUID, []string{"remove", "a"}, 1, "defined in the config file"},
		{"other user", otherUID, []string{"list"}, 5, "permission denied"},
		{"unknown command", nobodyUID, []string{"bogus"}, 2, `unknown command "bogus"`},
		{"json after the command", nobodyUID, []string{"list", "--json"}, 0, ""},
		{"json after the name", nobodyUID, []string{"show", "a", "--json"}, 2, "flags such as --json go before NAME"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := m.ctl(tc.uid, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tc.code, out, errOut)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr %q does not contain %q", errOut, tc.want)
			}
		})
	}
	if _, errOut, code := ns.output(nobodyUID, bins.portgate, "ctl", "--socket", filepath.Join(m.dir, "none.sock"), "list"); code != 4 || !strings.Contains(errOut, "cannot reach the Local Manager") {
		t.Errorf("ctl on a missing socket: exit %d, stderr %q, want 4 and a hint", code, errOut)
	}

	two := filepath.Join(m.dir, "two.toml")
	os.WriteFile(two, []byte("[[service]]\nname = \"d\"\nkind = \"echo\"\nlisten = [\"tcp://127.0.0.1:703\"]\n\n[[service]]\nname = \"e\"\nkind = \"echo\"\nlisten = [\"tcp://127.0.0.1:81\"]\n"), 0o644)
	if _, errOut, code := m.ctl(nobodyUID, "add", "--file", two); code != 1 || !strings.Contains(errOut, `added d before "e" failed; they stay added`) {
		t.Errorf("ctl add of two services, the second denied: exit %d, stderr %q, want 1 and a note that d stays", code, errOut)
	}
}

// squeeze replaces every run of spaces in s with one space, so tests can
// match table rows whatever the column widths.
func squeeze(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}

// TestManagerSocketMode checks the Local Manager socket's owner and mode.
func TestManagerSocketMode(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	m := startManaged(t, ns, helper, "", serviceA)
	st, err := os.Stat(m.socket)
	if err != nil {
		t.Fatal(err)
	}
	if mode := st.Mode().Perm(); mode != 0o600 {
		t.Errorf("socket mode %o, want 600", mode)
	}
	if uid := st.Sys().(*syscall.Stat_t).Uid; uid != nobodyUID {
		t.Errorf("socket owner %d, want %d", uid, nobodyUID)
	}
}

// TestCtlAddPastConnectionLimit lets the helper grant one connection only
// three sockets. Adding and removing a service five times through the
// Local Manager must still succeed: the server opens a new connection to
// a new helper when the old one is used up.
func TestCtlAddPastConnectionLimit(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy+"\n[limits]\nmax_sockets_per_peer = 3\n")
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	m := startManaged(t, ns, helper, "", echoConfig(map[string]int{"a": 700}))
	for round := 1; round <= 5; round++ {
		m.mustCtl(t, "add", "--name", "b", "--kind", "echo", "--listen", "tcp://127.0.0.1:701")
		if got, err := echoVia(ns, "127.0.0.1:701", "b"); err != nil || got != "b" {
			t.Errorf("round %d: echo on 701: got %q, %v", round, got, err)
		}
		m.mustCtl(t, "remove", "b")
	}
	if n := strings.Count(m.log.String(), `"message":"helper started"`); n != 2 {
		t.Errorf("%d helpers started, want 2: one for the first 3 sockets, one for the other 3", n)
	}
	if got, err := echoVia(ns, "127.0.0.1:700", "a"); err != nil || got != "a" {
		t.Errorf("echo on 700 after the rounds: got %q, %v", got, err)
	}
}

// TestManagerGroupMatchesSupplementaryGroup lets group 65534 use the
// Local Manager. A client of another uid passes the peer check when 65534
// is one of its supplementary groups, and the socket's mode keeps it out
// when it is not.
func TestManagerGroupMatchesSupplementaryGroup(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	dir := nobodyDir(t)
	socket := filepath.Join(dir, "manager.sock")
	config := fmt.Sprintf("[manager]\nsocket = %q\nservices_file = %q\ngroups = [\"65534\"]\n\n%s", socket, filepath.Join(dir, "services.toml"), serviceA)
	startServer(t, ns, nobodyUID, helper, config)

	out, errOut, code := ns.outputGroups(otherUID, []int{nobodyUID}, bins.portgate, "ctl", "--socket", socket, "list")
	if code != 0 {
		t.Errorf("ctl list as uid %d in group 65534: exit %d, expected 0\n%s%s", otherUID, code, out, errOut)
	}
	if !strings.Contains(squeeze(out), "a http running tcp://127.0.0.1:80") {
		t.Errorf("ctl list as uid %d in group 65534 does not list service a:\n%s", otherUID, out)
	}

	_, errOut, code = ns.output(otherUID, bins.portgate, "ctl", "--socket", socket, "list")
	if code != 5 {
		t.Errorf("ctl list as uid %d outside group 65534: exit %d, expected 5\n%s", otherUID, code, errOut)
	}
}
