package server

import (
	"slices"
	"strings"
	"testing"
)

func TestChildEnv(t *testing.T) {
	t.Setenv("LISTEN_PID", "1")
	t.Setenv("LISTEN_FDS", "9")
	t.Setenv("LISTEN_FDNAMES", "stale")
	t.Setenv("NOTIFY_SOCKET", "/run/systemd/notify")
	t.Setenv("KEEP_ME", "yes")
	env := childEnv(3, "web")
	for _, kv := range env {
		for _, gone := range []string{"LISTEN_PID=", "NOTIFY_SOCKET=", "LISTEN_FDS=9", "LISTEN_FDNAMES=stale"} {
			if strings.HasPrefix(kv, gone) {
				t.Errorf("child environment holds %s", kv)
			}
		}
	}
	for _, want := range []string{"LISTEN_FDS=3", "LISTEN_FDNAMES=web:web:web", "KEEP_ME=yes"} {
		if !slices.Contains(env, want) {
			t.Errorf("child environment lacks %s", want)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"web", "a", "web-2", "w.e_b", strings.Repeat("x", 64)} {
		if err := checkName(ok); err != nil {
			t.Errorf("checkName(%q): %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "a:b", "-web", "web/1", "a b", strings.Repeat("x", 65), "é"} {
		if err := checkName(bad); err == nil {
			t.Errorf("checkName(%q): nil, want an error", bad)
		}
	}
}

func TestExecConfigChecks(t *testing.T) {
	sc := ServiceConfig{Name: "x", Kind: "exec", Listen: []string{"tcp://:22"}}
	if err := sc.check(); err == nil || !strings.Contains(err.Error(), "kind exec needs a command") {
		t.Errorf("exec without command: %v", err)
	}
	sc = ServiceConfig{Name: "x", Kind: "echo", Listen: []string{"tcp://:7"}, Command: []string{"/bin/true"}}
	if err := sc.check(); err == nil || !strings.Contains(err.Error(), "command is a setting of kind exec") {
		t.Errorf("echo with command: %v", err)
	}
}
