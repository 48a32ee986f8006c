package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// doctorReport is the part of portgate doctor --json that the tests read.
type doctorReport struct {
	Mechanism string `json:"mechanism"`
	CanGrant  bool   `json:"can_grant"`
	Checks    []struct {
		Name   string   `json:"name"`
		Status string   `json:"status"`
		Detail string   `json:"detail"`
		Fix    []string `json:"fix"`
	} `json:"checks"`
}

// check returns the status and the detail and fixes of the named check.
func (r *doctorReport) check(name string) (string, string) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c.Status, c.Detail + "\n" + strings.Join(c.Fix, "\n")
		}
	}
	return "", ""
}

// runDoctor runs portgate doctor --json as root inside ns, behind the
// command prefix (such as setpriv --no-new-privs), for the helper at
// helperPath and the account nobody. It returns the report and the exit
// code.
func runDoctor(t *testing.T, ns *netns, helperPath string, prefix ...string) (*doctorReport, int) {
	t.Helper()
	args := append(prefix, bins.portgate, "doctor", "--json", "--helper", helperPath, "--policy", bins.policyPath, "--account", "nobody")
	stdout, stderr, code := ns.output(0, args[0], args[1:]...)
	var r doctorReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("doctor output is not JSON (%v):\n%s%s", err, stdout, stderr)
	}
	if t.Failed() {
		t.Logf("doctor report:\n%s", stdout)
	}
	return &r, code
}

// wantDoctor checks doctor's exit code, mechanism and verdict.
func wantDoctor(t *testing.T, r *doctorReport, code int, mechanism string, canGrant bool) {
	t.Helper()
	wantCode := 1
	if canGrant {
		wantCode = 0
	}
	if code != wantCode {
		t.Errorf("exit code: got %d, want %d", code, wantCode)
	}
	if r.Mechanism != mechanism {
		t.Errorf("mechanism: got %q, want %q", r.Mechanism, mechanism)
	}
	if r.CanGrant != canGrant {
		t.Errorf("can_grant: got %t, want %t", r.CanGrant, canGrant)
	}
}

// wantDoctorCheck checks the status of a check and that its text
// contains want.
func wantDoctorCheck(t *testing.T, r *doctorReport, name, status, want string) {
	t.Helper()
	got, text := r.check(name)
	if got != status {
		t.Errorf("check %q: status %q, want %q", name, got, status)
	}
	if !strings.Contains(text, want) {
		t.Errorf("check %q: got %q, want it to contain %q", name, text, want)
	}
}

func doctorSetup(t *testing.T, caps string) (*netns, string) {
	t.Helper()
	requireRoot(t)
	writePolicy(t, basePolicy)
	return newNetns(t), installHelper(t, caps)
}

func TestDoctorCapabilityPresent(t *testing.T) {
	ns, helper := doctorSetup(t, "cap_net_bind_service,cap_setpcap=p")
	r, code := runDoctor(t, ns, helper)
	wantDoctor(t, r, code, "capability", true)
	wantDoctorCheck(t, r, "file capability", "ok", "cap_net_bind_service")
	wantDoctorCheck(t, r, "helper check", "ok", "portgate-helper check as nobody")
	wantDoctorCheck(t, r, "policy", "ok", "privileged ports 7, 80")
}

func TestDoctorCapabilityRemoved(t *testing.T) {
	ns, helper := doctorSetup(t, "")
	r, code := runDoctor(t, ns, helper)
	wantDoctor(t, r, code, "none", false)
	wantDoctorCheck(t, r, "file capability", "problem", "setcap cap_net_bind_service,cap_setpcap=p "+helper)
	wantDoctorCheck(t, r, "helper check", "problem", "carries no cap_net_bind_service")
}

func TestDoctorNoNewPrivs(t *testing.T) {
	ns, helper := doctorSetup(t, "cap_net_bind_service,cap_setpcap=p")
	r, code := runDoctor(t, ns, helper, "setpriv", "--no-new-privs")
	wantDoctor(t, r, code, "none", false)
	wantDoctorCheck(t, r, "file capability", "ok", "cap_net_bind_service")
	wantDoctorCheck(t, r, "no_new_privs", "problem", "NoNewPrivileges=")
	wantDoctorCheck(t, r, "helper check", "problem", "no_new_privs was set before the helper started")
}

// ip_unprivileged_port_start belongs to the network namespace, so the
// test lowers it only in the namespace it made.
func TestDoctorPortStartLowered(t *testing.T) {
	ns, helper := doctorSetup(t, "")
	hostBefore, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err != nil {
		t.Fatal(err)
	}
	ns.run("sysctl", "-qw", "net.ipv4.ip_unprivileged_port_start=80")
	r, code := runDoctor(t, ns, helper)
	wantDoctor(t, r, code, "unprivileged-port-start", true)
	wantDoctorCheck(t, r, "ip_unprivileged_port_start", "ok", "is 80")
	wantDoctorCheck(t, r, "file capability", "problem", "setcap")
	hostAfter, _ := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if string(hostAfter) != string(hostBefore) {
		t.Errorf("host ip_unprivileged_port_start: got %q, want %q unchanged", hostAfter, hostBefore)
	}
}

func TestDoctorTextOutput(t *testing.T) {
	ns, helper := doctorSetup(t, "")
	stdout, _, code := ns.output(0, bins.portgate, "doctor", "--helper", helper, "--policy", bins.policyPath, "--account", "nobody")
	if code != 1 {
		t.Errorf("exit code: got %d, want 1", code)
	}
	for _, want := range []string{"[problem] file capability:", "fix: setcap cap_net_bind_service,cap_setpcap=p " + helper, "result: no port below 1024 can be granted to nobody"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, stdout)
		}
	}
}
