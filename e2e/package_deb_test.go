package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	debHelper   = "/usr/libexec/portgate/portgate-helper"
	debPIDFile  = "/run/portgate.pid"
	debInitPath = "/etc/init.d/portgate"
)

// debFiles are every path the package or its scripts add. Purge must
// remove all of them.
var debFiles = []string{
	"/usr/bin/portgate", "/usr/libexec/portgate", "/etc/portgate", debInitPath,
	"/lib/systemd/system/portgate.service", "/lib/systemd/system/portgate-helper.service",
	"/usr/share/doc/portgate", "/var/lib/portgate", "/var/log/portgate.log", "/run/portgate", debPIDFile,
}

// TestDebLifecycle installs the Debian package with dpkg, starts the
// server with its SysV init script, upgrades it to a rebuilt version and
// purges it. dpkg and the init script run inside a network namespace, so
// the server's port 80 is never on the host's network.
func TestDebLifecycle(t *testing.T) {
	requireRoot(t)
	requireTools(t, "dpkg", "nfpm", "make", "start-stop-daemon", "update-rc.d", "curl")
	lockPackageTests(t)
	if exec.Command("dpkg-query", "-W", "portgate").Run() == nil {
		t.Fatal("the package portgate is already installed on this host: remove it with dpkg --purge portgate before this test")
	}
	accountExisted := lookupAccount("portgate") != nil
	setAsideEtc(t)

	v1 := buildPackage(t, "deb", "0.1.0", t.TempDir())
	v2 := buildPackage(t, "deb", "0.1.1", t.TempDir())
	ns := newNetns(t)
	t.Cleanup(func() {
		ns.command(0, debInitPath, "stop").Run()
		ns.command(0, "dpkg", "--purge", "portgate").Run()
	})

	ns.run("dpkg", "--install", v1)
	account := lookupAccount("portgate")
	if account == nil {
		t.Fatal("after install: account portgate not found")
	}
	checkHelperInstalled(t, account)
	checkConffiles(t)

	ns.run(debInitPath, "start")
	first := waitServing(t, ns, account)
	if out, _, code := ns.output(0, debInitPath, "status"); code != 0 {
		t.Errorf("init script status: exit %d, want 0: %s", code, out)
	}

	ns.run("dpkg", "--install", v2)
	if got := strings.TrimSpace(run(t, "dpkg-query", "-W", "-f", "${Version}", "portgate")); got != "0.1.1" {
		t.Errorf("after upgrade: version %s, want 0.1.1", got)
	}
	checkHelperInstalled(t, account)
	second := waitServing(t, ns, account)
	if second == first {
		t.Errorf("after upgrade: server pid %d, want a new process on the new files", second)
	}
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", second)); exe != "/usr/bin/portgate" {
		t.Errorf("after upgrade: server runs %q, want /usr/bin/portgate", exe)
	}

	checkDaemonHelperConfig(t, account)

	ns.run(debInitPath, "stop")
	if _, _, code := ns.output(0, debInitPath, "status"); code != 3 {
		t.Errorf("init script status after stop: exit %d, want 3 (not running)", code)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", second)); err == nil {
		t.Errorf("server pid %d still runs after stop", second)
	}

	ns.run("dpkg", "--purge", "portgate")
	for _, path := range debFiles {
		if _, err := os.Lstat(path); err == nil {
			t.Errorf("after purge: %s still exists", path)
		}
	}
	links, _ := filepath.Glob("/etc/rc?.d/[SK]??portgate")
	if len(links) > 0 {
		t.Errorf("after purge: init links %q remain", links)
	}
	if got := lookupAccount("portgate") != nil; got != accountExisted {
		t.Errorf("after purge: account portgate exists %t, want %t as before the install", got, accountExisted)
	}
	if _, err := user.LookupGroup("portgate"); (err == nil) != accountExisted {
		t.Errorf("after purge: group portgate lookup error %v, want it to exist %t as before the install", err, accountExisted)
	}
}

// setAsideEtc moves a /etc/portgate left by make install out of the way
// for the test and puts it back at the end, so that the package's
// conffiles install as new and purge cannot delete the host's files.
func setAsideEtc(t *testing.T) {
	t.Helper()
	if _, err := os.Lstat("/etc/portgate"); err != nil {
		return
	}
	aside := fmt.Sprintf("/etc/portgate.e2e-%d", os.Getpid())
	if err := os.Rename("/etc/portgate", aside); err != nil {
		t.Fatalf("move /etc/portgate aside: %v", err)
	}
	t.Cleanup(func() {
		os.RemoveAll("/etc/portgate")
		if err := os.Rename(aside, "/etc/portgate"); err != nil {
			t.Errorf("put /etc/portgate back from %s: %v", aside, err)
		}
	})
}

func lookupAccount(name string) *user.User {
	u, err := user.Lookup(name)
	if err != nil {
		return nil
	}
	return u
}

// checkHelperInstalled checks the helper's owner, mode and capability.
func checkHelperInstalled(t *testing.T, account *user.User) {
	t.Helper()
	st, err := os.Stat(debHelper)
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	if got := st.Mode().Perm(); got != 0o750 {
		t.Errorf("helper mode: got %04o, want 0750", got)
	}
	uid, gid := fileOwner(t, debHelper)
	if uid != "0" || gid != account.Gid {
		t.Errorf("helper owner: got %s:%s, want 0:%s (root:portgate)", uid, gid, account.Gid)
	}
	if got := run(t, "getcap", debHelper); !strings.Contains(got, "cap_net_bind_service") || !strings.Contains(got, "=p") {
		t.Errorf("helper capability: getcap printed %q, want cap_net_bind_service=p", got)
	}
}

func fileOwner(t *testing.T, path string) (string, string) {
	t.Helper()
	out := run(t, "stat", "-c", "%u %g", path)
	f := strings.Fields(out)
	return f[0], f[1]
}

func checkConffiles(t *testing.T) {
	t.Helper()
	out := run(t, "dpkg-query", "-W", "-f", "${Conffiles}", "portgate")
	for _, want := range []string{"/etc/portgate/helper.toml", "/etc/portgate/portgate.toml", debInitPath} {
		if !strings.Contains(out, " "+want+" ") {
			t.Errorf("conffiles lack %s:\n%s", want, out)
		}
	}
}

// waitServing waits up to 15 s until the server responds on port 80 in
// ns, checks that it runs as the account, and returns its pid.
func waitServing(t *testing.T, ns *netns, account *user.User) int {
	t.Helper()
	var body, errOut string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var code int
		body, errOut, code = ns.output(0, "curl", "-sS", "--max-time", "5", "http://127.0.0.1:80/")
		if code == 0 {
			break
		}
	}
	if !strings.Contains(body, "runs as user portgate (uid "+account.Uid+")") {
		log, _ := os.ReadFile("/var/log/portgate.log")
		t.Fatalf("port 80: got %q (curl: %s), want the welcome page of user portgate; server log:\n%s", body, errOut, log)
	}
	data, err := os.ReadFile(debPIDFile)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("pid file %q: %v", data, err)
	}
	if uids := strings.Fields(procStatus(pid)["Uid"]); len(uids) == 0 || uids[0] != account.Uid {
		t.Errorf("server pid %d runs as uids %q, want %s (portgate)", pid, uids, account.Uid)
	}
	return pid
}

// checkDaemonHelperConfig runs the installed binaries as the systemd units
// run them: the helper daemon and the server with
// /etc/portgate/portgate-daemon-helper.toml, both as portgate, in a
// network namespace of their own. The server must get port 80 from the
// daemon.
func checkDaemonHelperConfig(t *testing.T, account *user.User) {
	t.Helper()
	const runtimeDir = "/run/portgate-helper"
	if _, err := os.Lstat(runtimeDir); err == nil {
		t.Errorf("%s exists already, so the units' layout cannot be tested: remove it", runtimeDir)
		return
	}
	ns := newNetns(t)
	run(t, "install", "-d", "-o", "portgate", "-g", "portgate", "-m", "0750", runtimeDir)
	t.Cleanup(func() { os.RemoveAll(runtimeDir) })
	daemonLog := startAsAccount(t, ns, "/usr/libexec/portgate/portgate-helper", "daemon")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(runtimeDir + "/helper.sock"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the helper daemon made no socket in 10s; log:\n%s", daemonLog)
		}
	}
	serverLog := startAsAccount(t, ns, "/usr/bin/portgate", "serve", "--config", "/etc/portgate/portgate-daemon-helper.toml")
	var body string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if out, _, code := ns.output(0, "curl", "-sS", "--max-time", "5", "http://127.0.0.1:80/"); code == 0 {
			body = out
			break
		}
	}
	if !strings.Contains(body, "runs as user portgate (uid "+account.Uid+")") {
		t.Errorf("daemon-helper config: port 80 served %q, want the welcome page of portgate; server log:\n%s\ndaemon log:\n%s", body, serverLog, daemonLog)
	}
	if !strings.Contains(daemonLog.String(), `"granted"`) {
		t.Errorf("the helper daemon logged no grant:\n%s", daemonLog)
	}
}

// startAsAccount starts a command as the account portgate, with its
// groups, inside ns, and stops it when the test ends. It returns the
// command's output.
func startAsAccount(t *testing.T, ns *netns, args ...string) *processLog {
	t.Helper()
	argv := append([]string{"-t", strconv.Itoa(ns.pid), "-n", "--", "setpriv", "--reuid=portgate", "--regid=portgate", "--init-groups", "--"}, args...)
	cmd := exec.Command("nsenter", argv...)
	// The server keeps its Local Manager socket and state in directories
	// of the account's own, as systemd's RuntimeDirectory= and
	// StateDirectory= give it.
	runtimeDir, stateDir := publicDir(t), publicDir(t)
	run(t, "chown", "portgate:portgate", runtimeDir, stateDir)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "RUNTIME_DIRECTORY=" + runtimeDir, "STATE_DIRECTORY=" + stateDir}
	out := newProcessLog(t)
	cmd.Stdout, cmd.Stderr = out.file, out.file
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", args, err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(unix.SIGTERM)
		done := timeoutKill(cmd, 15*time.Second)
		cmd.Wait()
		done()
	})
	return out
}
