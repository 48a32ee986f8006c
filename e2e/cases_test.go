package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portgate/portgate/protocol"
)

// TestCapabilityLostOnReplace replaces the installed helper the two ways
// that drop a file capability, an atomic rename of a new file and a copy
// over the old one, and checks that the helper then says exactly that and
// how to fix it. Sockets it handed out before keep serving after the old
// helper is killed.
func TestCapabilityLostOnReplace(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=p")
	srv := startServer(t, ns, nobodyUID, helper, `
[[service]]
name = "echo"
kind = "echo"
listen = ["tcp://127.0.0.1:7"]
`)

	replace := map[string]func(){
		"atomic rename": func() {
			copyFile(t, bins.helper, helper+".new", 0o755)
			if err := os.Rename(helper+".new", helper); err != nil {
				t.Fatal(err)
			}
		},
		"copy over": func() {
			run(t, "setcap", "cap_net_bind_service=p", helper)
			data, err := os.ReadFile(bins.helper)
			if err != nil {
				t.Fatal(err)
			}
			// Writing to the file keeps its inode; the kernel removes the
			// capability on the first write.
			if err := os.WriteFile(helper, data, 0o755); err != nil {
				t.Fatal(err)
			}
		},
	}
	for _, name := range []string{"atomic rename", "copy over"} {
		t.Run(name, func(t *testing.T) {
			replace[name]()
			if out := run(t, "getcap", helper); strings.Contains(out, "cap_net_bind_service") {
				t.Fatalf("capability still present after %s: %s", name, out)
			}
			rs := runClient(t, ns, nobodyUID, "-helper", helper, "tcp://127.0.0.1:80")
			if len(rs) != 1 || rs[0].OK {
				t.Fatalf("request after %s: %+v, want a failure", name, rs)
			}
			if rs[0].Code != uint16(protocol.CodeNoPrivilege) {
				t.Errorf("code %d, want %d (no privilege)", rs[0].Code, protocol.CodeNoPrivilege)
			}
			for _, want := range []string{"carries no cap_net_bind_service", "setcap cap_net_bind_service,cap_setpcap=p " + helper} {
				if !strings.Contains(rs[0].Error, want) {
					t.Errorf("error %q does not contain %q", rs[0].Error, want)
				}
			}
		})
	}

	t.Run("old sockets survive the helper", func(t *testing.T) {
		kids := childrenOf(srv.pid)
		if len(kids) != 1 {
			t.Fatalf("server has %d children, want the helper alone", len(kids))
		}
		if err := unix.Kill(kids[0], unix.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			c, err := ns.dial("tcp", "127.0.0.1:7")
			if err != nil {
				t.Fatalf("dial echo after the helper died: %v", err)
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "ping %d", i)
			buf := make([]byte, 16)
			n, err := c.Read(buf)
			c.Close()
			if err != nil || string(buf[:n]) != fmt.Sprintf("ping %d", i) {
				t.Errorf("echo after the helper died: got %q, %v", buf[:n], err)
			}
		}
	})
}

// TestHelperStartsInEveryContainerSetting runs `portgate-helper check` in
// every combination of root or not, an emptied bounding set with or without
// NET_BIND_SERVICE added back, no_new_privs, the file capability, and
// ip_unprivileged_port_start at 1024 or 0, the way container runtimes set
// them up. The helper must always start, bind exactly when some mechanism
// allows it, and otherwise say what to do.
func TestHelperStartsInEveryContainerSetting(t *testing.T) {
	requireRoot(t)
	writePolicy(t, fmt.Sprintf(`
[[allow]]
users = [0, %d]
networks = ["tcp"]
addresses = ["127.0.0.1"]
ports = [80]
`, otherUID))
	withCap := installHelper(t, "cap_net_bind_service=p")
	withoutCap := installHelper(t, "")
	for _, portStart := range []int{1024, 0} {
		ns := newNetns(t)
		ns.run("sysctl", "-q", "-w", fmt.Sprintf("net.ipv4.ip_unprivileged_port_start=%d", portStart))
		for _, root := range []bool{true, false} {
			for _, capDrop := range []string{"", "drop-all", "drop-all-add-net-bind"} {
				for _, nnp := range []bool{false, true} {
					for _, fileCap := range []bool{true, false} {
						name := fmt.Sprintf("portstart=%d/root=%t/%s/nnp=%t/filecap=%t", portStart, root, capDrop, nnp, fileCap)
						t.Run(name, func(t *testing.T) {
							helper := withoutCap
							if fileCap {
								helper = withCap
							}
							checkContainerSetting(t, ns, helper, portStart, root, capDrop, nnp, fileCap)
						})
					}
				}
			}
		}
	}
}

func checkContainerSetting(t *testing.T, ns *netns, helper string, portStart int, root bool, capDrop string, nnp, fileCap bool) {
	args := []string{"-t", fmt.Sprint(ns.pid), "-n", "--", "setpriv"}
	if !root {
		args = append(args, fmt.Sprintf("--reuid=%d", otherUID), fmt.Sprintf("--regid=%d", otherUID), "--clear-groups")
	}
	switch capDrop {
	case "drop-all":
		args = append(args, "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all")
	case "drop-all-add-net-bind":
		args = append(args, "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all,+net_bind_service")
	}
	if nnp {
		args = append(args, "--no-new-privs")
	}
	// A shell between setpriv and the helper gives the helper the
	// capabilities an exec from an ordinary parent would: setpriv itself
	// keeps its permitted set across the uid change.
	args = append(args, "--", "sh", "-c", `exec "$0" check --port 80`, helper)
	cmd := exec.Command("nsenter", args...)
	done := timeoutKill(cmd, 30*time.Second)
	out, err := cmd.CombinedOutput()
	done()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run check: %v", err)
	}
	text := string(out)
	if !strings.Contains(text, "mechanism: ") {
		t.Fatalf("helper did not start (exit %d):\n%s", code, text)
	}

	boundingHasCap := capDrop != "drop-all"
	hasCap := boundingHasCap && (root || fileCap && !nnp)
	canBind := hasCap || portStart == 0
	wantMech := "none"
	switch {
	case hasCap:
		wantMech = "capability"
	case portStart == 0:
		wantMech = "unprivileged-port-start"
	}
	if !strings.Contains(text, "mechanism: "+wantMech+"\n") {
		t.Errorf("want mechanism %s, got:\n%s", wantMech, text)
	}
	if canBind && code != 0 {
		t.Errorf("a mechanism exists but the bind failed (exit %d):\n%s", code, text)
	}
	if !canBind {
		if code != 1 {
			t.Errorf("no mechanism exists: exit %d, want 1:\n%s", code, text)
		}
		var want string
		switch {
		case !fileCap:
			want = "setcap cap_net_bind_service,cap_setpcap=p"
		case !root && nnp && boundingHasCap:
			want = "no_new_privs was set before the helper started"
		default:
			want = "not in the capability bounding set"
		}
		if !strings.Contains(text, want) {
			t.Errorf("diagnosis does not contain %q:\n%s", want, text)
		}
		if !strings.Contains(text, "ip_unprivileged_port_start") {
			t.Errorf("diagnosis does not offer the sysctl:\n%s", text)
		}
	}
}

// TestLinkLocalZone binds a link-local IPv6 address through the helper
// with its zone, and checks that a request without the zone gets a clear
// error instead of the kernel's bare EINVAL.
func TestLinkLocalZone(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	ns.run("ip", "link", "add", "pgv0", "type", "veth", "peer", "name", "pgv1")
	ns.run("ip", "link", "set", "pgv0", "up")
	ns.run("ip", "link", "set", "pgv1", "up")
	ns.run("ip", "-6", "addr", "add", "fe80::1234/64", "dev", "pgv0", "nodad")
	helper := installHelper(t, "cap_net_bind_service=p")

	rs := runClient(t, ns, nobodyUID, "-helper", helper, "tcp6://[fe80::1234%pgv0]:80", "tcp6://[fe80::1234]:80")
	if len(rs) != 2 {
		t.Fatalf("got %d results, want 2", len(rs))
	}
	if !rs[0].OK {
		t.Fatalf("bind with zone failed: %s", rs[0].Error)
	}
	if len(rs[0].FromHelper) != 1 || !rs[0].FromHelper[0] {
		t.Errorf("socket with zone was not bound by the helper: %+v", rs[0])
	}
	if got, want := rs[0].Local[0], "[fe80::1234%pgv0]:80"; got != want {
		t.Errorf("local address %s, want %s", got, want)
	}
	if rs[1].OK {
		t.Fatalf("bind without zone succeeded: %+v", rs[1])
	}
	if !strings.Contains(rs[1].Error, "needs a zone naming its interface") {
		t.Errorf("error without zone: %q, want it to ask for a zone", rs[1].Error)
	}
}
