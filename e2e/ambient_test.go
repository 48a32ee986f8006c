package e2e

import (
	"strings"
	"testing"
)

// An ambient capability, as systemd's AmbientCapabilities= grants it,
// gives a helper without a file capability the right, and the helper
// names it as the source.
func TestHelperCheckAmbientCapability(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "")
	stdout, stderr, code := ns.output(0, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=+net_bind_service", "--ambient-caps=+net_bind_service", helper, "check")
	if code != 0 {
		t.Errorf("check: exit %d, want 0:\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"mechanism: capability\n", "source: ambient capability from the parent process", "bind 127.0.0.1:80: ok\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, stdout)
		}
	}
}
