package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const basePolicy = `
[[allow]]
users = ["65534"]
networks = ["tcp", "udp"]
addresses = ["*"]
ports = [7, 80, "700-999"]
`

const welcomeConfig = `
[[service]]
name = "welcome"
kind = "http"
listen = ["tcp://:80"]

[[service]]
name = "echo"
kind = "echo"
listen = ["udp://127.0.0.1:7", "udp://[::1]:7", "tcp://127.0.0.1:7"]
`

// startWelcome starts the welcome and echo services as nobody, with a
// helper that has the capability the install gives it.
func startWelcome(t *testing.T) (*netns, *server) {
	t.Helper()
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	return ns, startServer(t, ns, nobodyUID, helper, welcomeConfig)
}

func TestServeHTTPWithCurl(t *testing.T) {
	ns, _ := startWelcome(t)
	for _, url := range []string{"http://127.0.0.1:80/", "http://[::1]:80/"} {
		out, errOut, code := ns.output(nobodyUID, "curl", "-sS", "--max-time", "5", url)
		if code != 0 {
			t.Errorf("curl %s: exit %d: %s", url, code, errOut)
			continue
		}
		if !strings.Contains(out, "runs as user nobody (uid 65534)") {
			t.Errorf("curl %s: page does not name the user:\n%s", url, out)
		}
		if !strings.Contains(out, "<td>[::]:80</td><td>portgate-helper</td>") {
			t.Errorf("curl %s: page does not list [::]:80 from the helper:\n%s", url, out)
		}
	}
}

func TestServeHTTPWithGoClient(t *testing.T) {
	ns, _ := startWelcome(t)
	for _, addr := range []string{"127.0.0.1:80", "[::1]:80"} {
		c, err := ns.dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: portgate\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("read response from %s: %v", addr, err)
		}
		body, _ := io.ReadAll(resp.Body)
		c.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", addr, resp.StatusCode)
		}
		if !strings.Contains(string(body), "portgate is running") {
			t.Errorf("GET %s: body is not the welcome page:\n%s", addr, body)
		}
	}
}

func TestServeUDPBelow1024(t *testing.T) {
	ns, _ := startWelcome(t)
	for _, addr := range []string{"127.0.0.1:7", "[::1]:7"} {
		c, err := ns.dial("udp", addr)
		if err != nil {
			t.Fatalf("dial udp %s: %v", addr, err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("datagram to " + addr)); err != nil {
			t.Fatalf("write udp %s: %v", addr, err)
		}
		buf := make([]byte, 128)
		n, err := c.Read(buf)
		c.Close()
		if err != nil {
			t.Fatalf("read echo from udp %s: %v", addr, err)
		}
		if got, want := string(buf[:n]), "datagram to "+addr; got != want {
			t.Errorf("udp %s echoed %q, want %q", addr, got, want)
		}
	}
}

func TestServeProcessPrivileges(t *testing.T) {
	_, srv := startWelcome(t)
	log := srv.log.String()
	if landlockAvailable() && !strings.Contains(log, `"Landlock applied"`) {
		t.Errorf("the kernel has Landlock but the helper did not apply it:\n%s", log)
	}
	if !strings.Contains(log, `"peer_exe":"`+bins.portgate+`"`) {
		t.Errorf("the helper's log does not name the server's executable %s:\n%s", bins.portgate, log)
	}
	if !strings.Contains(log, `"seccomp filter applied"`) {
		t.Errorf("the helper did not log its seccomp filter:\n%s", log)
	}
	st := procStatus(srv.pid)
	for _, field := range []string{"CapInh", "CapPrm", "CapEff", "CapAmb"} {
		if st[field] != "0000000000000000" {
			t.Errorf("server %s = %s, want none", field, st[field])
		}
	}
	if st["Uid"] != "65534\t65534\t65534\t65534" {
		t.Errorf("server Uid = %q, want 65534 for real, effective, saved and filesystem", st["Uid"])
	}
	kids := childrenOf(srv.pid)
	if len(kids) != 1 {
		t.Fatalf("server has %d children, want the helper alone", len(kids))
	}
	hs := procStatus(kids[0])
	const netBind = "0000000000000400" // bit 10, CAP_NET_BIND_SERVICE
	for _, field := range []string{"CapPrm", "CapEff"} {
		if hs[field] != netBind {
			t.Errorf("helper %s = %s, want %s (CAP_NET_BIND_SERVICE only)", field, hs[field], netBind)
		}
	}
	for _, field := range []string{"CapInh", "CapAmb"} {
		if hs[field] != "0000000000000000" {
			t.Errorf("helper %s = %s, want none", field, hs[field])
		}
	}
	if hs["NoNewPrivs"] != "1" {
		t.Errorf("helper NoNewPrivs = %q, want 1", hs["NoNewPrivs"])
	}
	if hs["Seccomp"] != "2" {
		t.Errorf("helper Seccomp = %q, want 2 (filter mode)", hs["Seccomp"])
	}
	if st["Seccomp"] != "0" {
		t.Errorf("server Seccomp = %q, want 0: the filter belongs to the helper alone", st["Seccomp"])
	}
	if hs["Uid"] != "65534\t65534\t65534\t65534" {
		t.Errorf("helper Uid = %q, want 65534 throughout", hs["Uid"])
	}
}

func TestHelperWithSetpcapEmptiesBoundingSet(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service,cap_setpcap=p")
	srv := startServer(t, ns, nobodyUID, helper, welcomeConfig)
	kids := childrenOf(srv.pid)
	if len(kids) != 1 {
		t.Fatalf("server has %d children, want the helper alone", len(kids))
	}
	hs := procStatus(kids[0])
	const netBind = "0000000000000400"
	for _, field := range []string{"CapPrm", "CapEff", "CapBnd"} {
		if hs[field] != netBind {
			t.Errorf("helper %s = %s, want %s", field, hs[field], netBind)
		}
	}
	if out, _, code := ns.output(nobodyUID, "curl", "-sS", "--max-time", "5", "http://127.0.0.1/"); code != 0 || !strings.Contains(out, "portgate is running") {
		t.Errorf("curl through the =p helper: exit %d, page:\n%s", code, out)
	}
}

// landlockAvailable reports whether the running kernel offers Landlock,
// asking it for its Landlock ABI version.
func landlockAvailable() bool {
	_, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	return errno == 0
}

// TestServeDirectWithLoweredPortStart lowers ip_unprivileged_port_start
// to 80 in the test's namespace: the server must then bind port 80
// itself, and still ask the helper for port 79, below the new start.
func TestServeDirectWithLoweredPortStart(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy+"\n[[allow]]\nusers = [\"65534\"]\nnetworks = [\"tcp\"]\naddresses = [\"*\"]\nports = [79]\n")
	ns := newNetns(t)
	ns.run("sysctl", "-q", "-w", "net.ipv4.ip_unprivileged_port_start=80")
	helper := installHelper(t, "cap_net_bind_service=+ep")
	srv := startServer(t, ns, nobodyUID, helper, echoConfig(map[string]int{"a": 80, "b": 79}))
	log := srv.log.String()
	if !logHas(log, `"address":"127.0.0.1:80"`, `"from_helper":false`) {
		t.Error("port 80 was not bound directly with ip_unprivileged_port_start = 80")
	}
	if !logHas(log, `"address":"127.0.0.1:79"`, `"from_helper":true`) {
		t.Error("port 79 did not come from the helper")
	}
}
