package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/portgate/portgate/protocol"
)

func TestDenyPortOutsidePolicy(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	rs := runClient(t, ns, nobodyUID, "-helper", helper, "tcp://127.0.0.1:81", "tcp://127.0.0.1:80")
	if len(rs) != 2 {
		t.Fatalf("got %d results, want 2", len(rs))
	}
	denied, next := rs[0], rs[1]
	if denied.OK {
		t.Fatalf("port 81 was granted, want a denial")
	}
	if denied.Code != uint16(protocol.CodeDenied) {
		t.Errorf("port 81: code %d, want %d (denied by policy)", denied.Code, protocol.CodeDenied)
	}
	for _, want := range []string{"tcp://127.0.0.1:81", "denied by policy", "uid 65534", "127.0.0.1:81", bins.policyPath} {
		if !strings.Contains(denied.Error, want) {
			t.Errorf("denial %q does not contain %q", denied.Error, want)
		}
	}
	if !next.OK {
		t.Fatalf("port 80 after a denial: %s", next.Error)
	}
	if next.HelperPID != denied.HelperPID || next.HelperPID == 0 {
		t.Errorf("helper pid %d served the denial and %d the next request, want one helper", denied.HelperPID, next.HelperPID)
	}
	if got := next.OpenFDs - denied.OpenFDs; got != 1 {
		t.Errorf("the granted request added %d descriptors to the client, want 1 (the denied one must add none)", got)
	}
}

func TestDenyUIDNotInPolicy(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	rs := runClient(t, ns, otherUID, "-helper", helper, "tcp://127.0.0.1:80", "udp://127.0.0.1:80")
	if len(rs) != 2 {
		t.Fatalf("got %d results, want 2", len(rs))
	}
	for _, r := range rs {
		if r.OK {
			t.Errorf("%v granted to uid %d, want a denial", r.Endpoints, otherUID)
			continue
		}
		if r.Code != uint16(protocol.CodeDenied) {
			t.Errorf("%v: code %d, want %d", r.Endpoints, r.Code, protocol.CodeDenied)
		}
		if !strings.Contains(r.Error, "uid 4242 may not bind") {
			t.Errorf("%v: error %q does not name uid 4242", r.Endpoints, r.Error)
		}
	}
	if rs[0].HelperPID != rs[1].HelperPID {
		t.Errorf("helper restarted between denials (%d, %d), want it to keep serving", rs[0].HelperPID, rs[1].HelperPID)
	}
	if rs[0].OpenFDs != rs[1].OpenFDs {
		t.Errorf("client descriptors went from %d to %d across a denial, want no change", rs[0].OpenFDs, rs[1].OpenFDs)
	}
}

func TestDenyPolicyWritableByOthers(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	if err := os.Chmod(bins.policyPath, 0o666); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(bins.policyPath, 0o644)

	// pgclient waits for the pause file to vanish between its requests, so
	// the test can repair the policy while the same client keeps running.
	pause := publicDir(t) + "/pause"
	if err := os.WriteFile(pause, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := ns.command(nobodyUID, bins.pgclient, "-helper", helper, "-pause-file", pause, "tcp://127.0.0.1:80", "tcp://127.0.0.1:80")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := timeoutKill(cmd, 60*time.Second)
	defer func() {
		done()
		cmd.Wait()
	}()
	dec := json.NewDecoder(stdout)

	var first clientResult
	if err := dec.Decode(&first); err != nil {
		t.Fatalf("read first result: %v", err)
	}
	if first.OK {
		t.Fatal("granted with a policy writable by others, want a refusal")
	}
	if first.Code != uint16(protocol.CodeHelperFailed) {
		t.Errorf("code %d, want %d (helper failed to start)", first.Code, protocol.CodeHelperFailed)
	}
	for _, want := range []string{bins.policyPath, "writable by group or others", "chmod go-w"} {
		if !strings.Contains(first.Error, want) {
			t.Errorf("error %q does not contain %q", first.Error, want)
		}
	}

	if err := os.Chmod(bins.policyPath, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(pause)
	var second clientResult
	if err := dec.Decode(&second); err != nil {
		t.Fatalf("read second result: %v", err)
	}
	if !second.OK {
		t.Errorf("after chmod 644 the next request failed: %s", second.Error)
	}
	if got := second.OpenFDs - first.OpenFDs; got < 1 {
		t.Errorf("client descriptors grew by %d with the grant, want at least the socket", got)
	}
}

func TestDenySetuidHelper(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "")
	if err := os.Chmod(helper, os.ModeSetuid|0o755); err != nil {
		t.Fatal(err)
	}
	rs := runClient(t, ns, nobodyUID, "-helper", helper, "tcp://127.0.0.1:80")
	if len(rs) != 1 {
		t.Fatalf("got %d results, want 1", len(rs))
	}
	r := rs[0]
	if r.OK {
		t.Fatal("a setuid helper granted a socket, want a refusal")
	}
	if r.Code != uint16(protocol.CodeHelperFailed) {
		t.Errorf("code %d, want %d (helper failed to start)", r.Code, protocol.CodeHelperFailed)
	}
	for _, want := range []string{"must not be setuid", "chmod u-s,g-s " + helper} {
		if !strings.Contains(r.Error, want) {
			t.Errorf("error %q does not contain %q", r.Error, want)
		}
	}
}

func TestDenyWithoutPolicyFile(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	if err := os.Remove(bins.policyPath); err != nil {
		t.Fatal(err)
	}
	defer writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=p")
	rs := runClient(t, ns, nobodyUID, "-helper", helper, "tcp://127.0.0.1:80")
	if len(rs) != 1 || rs[0].OK {
		t.Fatalf("got %+v, want one denial", rs)
	}
	if rs[0].Code != uint16(protocol.CodeDenied) {
		t.Errorf("code %d, want %d (denied by policy)", rs[0].Code, protocol.CodeDenied)
	}
	for _, want := range []string{bins.policyPath + " does not exist", "[[allow]]", "ports = [80, 443]"} {
		if !strings.Contains(rs[0].Error, want) {
			t.Errorf("error %q does not contain %q", rs[0].Error, want)
		}
	}
}

func TestServeRefusesRootWithoutUser(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=p")
	_, stderr, code := ns.output(0, bins.portgate, "serve", "--helper", helper)
	if code == 0 {
		t.Fatal("portgate serve ran as root without --user, want a refusal")
	}
	if !strings.Contains(stderr, "refusing to serve as root: pass --user NAME") {
		t.Errorf("refusal message: %q", stderr)
	}

	srv := startServerArgs(t, ns, 0, helper, welcomeConfig, "--user", "nobody")
	st := procStatus(srv.pid)
	if st["Uid"] != "65534\t65534\t65534\t65534" || st["Gid"] != "65534\t65534\t65534\t65534" {
		t.Errorf("server started as root with --user nobody runs as Uid %q Gid %q, want 65534", st["Uid"], st["Gid"])
	}
	if st["CapPrm"] != "0000000000000000" || st["CapEff"] != "0000000000000000" {
		t.Errorf("server keeps capabilities CapPrm %s CapEff %s after switching user, want none", st["CapPrm"], st["CapEff"])
	}
	if st["Groups"] != "65534" {
		t.Errorf("server supplementary groups %q, want only 65534", st["Groups"])
	}
	if out, _, code := ns.output(nobodyUID, "curl", "-sS", "--max-time", "5", "http://127.0.0.1/"); code != 0 || !strings.Contains(out, "uid 65534") {
		t.Errorf("curl after switching user: exit %d, page:\n%s", code, out)
	}
}

func TestCheckHonoursPolicy(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=p")
	out, _, code := ns.output(nobodyUID, helper, "check", "--port", "22")
	if code != 1 {
		t.Errorf("check of port 22, outside the policy: exit %d, want 1:\n%s", code, out)
	}
	if !strings.Contains(out, "uid 65534 may not bind tcp 127.0.0.1:22, so the bind test is skipped") {
		t.Errorf("check of port 22 does not say the policy forbids it:\n%s", out)
	}
	if strings.Contains(out, "bind 127.0.0.1:22") {
		t.Errorf("check bound port 22 although the policy forbids it:\n%s", out)
	}
	out, _, code = ns.output(nobodyUID, helper, "check", "--port", "80")
	if code != 0 || !strings.Contains(out, "bind 127.0.0.1:80: ok") {
		t.Errorf("check of port 80, inside the policy: exit %d:\n%s", code, out)
	}

	// A rule for a group admits a caller in it as a supplementary group,
	// as it admits such a peer of the helper.
	writePolicy(t, "[[allow]]\ngroups = [\"4321\"]\naddresses = [\"*\"]\nports = [80]\n")
	out, _, code = ns.outputGroups(otherUID, []int{4321}, helper, "check", "--port", "80")
	if code != 0 || !strings.Contains(out, "bind 127.0.0.1:80: ok") {
		t.Errorf("check of port 80 by uid %d in supplementary group 4321: exit %d, expected 0:\n%s", otherUID, code, out)
	}
}

// A rule that names a group matches a client whose supplementary groups
// include it, as the kernel recorded them when the client connected, and
// not a client of the same uid outside that group.
func TestPolicyGroupMatchesSupplementaryGroup(t *testing.T) {
	requireRoot(t)
	writePolicy(t, `
[[allow]]
groups = ["4321"]
networks = ["tcp"]
addresses = ["*"]
ports = [80]
`)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")

	in := runClientGroups(t, ns, otherUID, []int{4320, 4321}, "-helper", helper, "tcp://127.0.0.1:80")
	if len(in) != 1 {
		t.Fatalf("got %d results, expected 1", len(in))
	}
	if !in[0].OK {
		t.Errorf("uid %d in group 4321: %s, expected a grant", otherUID, in[0].Error)
	}

	out := runClientGroups(t, ns, otherUID, []int{4320}, "-helper", helper, "tcp://127.0.0.1:80")
	if len(out) != 1 {
		t.Fatalf("got %d results, expected 1", len(out))
	}
	if out[0].OK {
		t.Errorf("uid %d outside group 4321 was granted port 80, expected a denial", otherUID)
	}
	if out[0].Code != uint16(protocol.CodeDenied) {
		t.Errorf("uid %d outside group 4321: code %d, expected %d", otherUID, out[0].Code, protocol.CodeDenied)
	}
}
