package e2e

import (
	"strings"
	"testing"
)

// TestCtlChangeWildcardSpecific changes a running service between the
// wildcard and a specific address on the same port with portgate ctl
// change, for IPv4 and IPv6. Each change must succeed, the service must
// serve on the new address, and it must never be left without a
// listener.
func TestCtlChangeWildcardSpecific(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	m := startManaged(t, ns, helper, "", "")
	steps := []struct{ listen, dial string }{
		{"tcp4://0.0.0.0:700", "127.0.0.1:700"},
		{"tcp4://127.0.0.1:700", "127.0.0.1:700"},
		{"tcp4://0.0.0.0:700", "127.0.0.1:700"},
		{"tcp6://[::]:700", "[::1]:700"},
		{"tcp6://[::1]:700", "[::1]:700"},
	}
	m.mustCtl(t, "add", "--name", "w", "--kind", "echo", "--listen", steps[0].listen)
	for _, step := range steps[1:] {
		m.mustCtl(t, "change", "--name", "w", "--kind", "echo", "--listen", step.listen)
		out := squeeze(m.mustCtl(t, "show", "w"))
		if !strings.Contains(out, "state: running") || !strings.Contains(out, "w running "+step.listen) {
			t.Errorf("after change to %s:\n%s", step.listen, out)
		}
		if got, err := echoVia(ns, step.dial, "w"); err != nil || got != "w" {
			t.Errorf("echo on %s after change to %s: got %q, %v", step.dial, step.listen, got, err)
		}
	}
	if !strings.Contains(m.log.String(), "closing the old socket before binding") {
		t.Error("no change went through the release-then-bind path")
	}

	// A change to a port another process holds is rejected as a whole.
	busy, err := ns.listen("tcp", "127.0.0.1:701")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if _, errOut, code := m.ctl(nobodyUID, "change", "--name", "w", "--kind", "echo", "--listen", "tcp4://127.0.0.1:701"); code != 1 || !strings.Contains(errOut, "the old addresses keep serving") {
		t.Errorf("change to a busy port: exit %d, stderr %q, want 1 and the old addresses serving", code, errOut)
	}
	if got, err := echoVia(ns, "[::1]:700", "old"); err != nil || got != "old" {
		t.Errorf("echo on the old address after the rejected change: got %q, %v", got, err)
	}
}
