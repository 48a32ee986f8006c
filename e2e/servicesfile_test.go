package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnreadableDefaultServicesFile starts the server, with no [manager]
// table, where the default services file sits in a directory it may not
// read: it must start and say that ctl's services stay in memory. With a
// [manager] table naming that file, the same failure stops the start.
func TestUnreadableDefaultServicesFile(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	state := filepath.Join(publicDir(t), "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(state, "services.toml"), nil, 0o600)
	config := echoConfig(map[string]int{"a": 700})

	ns := newNetns(t)
	argv := append([]string{"env", "STATE_DIRECTORY=" + state}, serveArgv(t, helper, config)...)
	srv, err := startParent(t, ns, argv, nil)
	if err != nil {
		t.Fatalf("server with an unreadable default services file: %v", err)
	}
	if !strings.Contains(srv.log.String(), "services added with portgate ctl are kept in memory only") {
		t.Error("log does not say that ctl's services stay in memory")
	}

	ns2 := newNetns(t)
	explicit := "[manager]\nservices_file = \"" + filepath.Join(state, "services.toml") + "\"\nsocket = \"" + filepath.Join(nobodyDir(t), "m.sock") + "\"\n" + config
	_, err = startParent(t, ns2, serveArgv(t, helper, explicit), nil)
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("server with an unreadable configured services file: %v, want it to stop with permission denied", err)
	}
}
