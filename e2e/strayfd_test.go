package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestHelperClosesStrayDescriptors starts the server with two descriptors
// it does not know about, as a careless parent would leave them. The
// server's helper must not keep them: it closes what it inherited by
// accident and says so.
func TestHelperClosesStrayDescriptors(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=p")
	dir := publicDir(t)
	cfg := filepath.Join(dir, "portgate.toml")
	os.WriteFile(cfg, []byte(welcomeConfig), 0o644)
	stray := make([]*os.File, 2)
	for i := range stray {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("stray-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		stray[i] = f
	}
	cmd := ns.command(nobodyUID, bins.portgate, "serve", "--config", cfg, "--helper", helper)
	cmd.ExtraFiles = stray
	log := newProcessLog(t)
	cmd.Stderr = log.file
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(unix.SIGTERM)
		cmd.Wait()
	}()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(log.String(), `"server ready"`) {
		if time.Now().After(deadline) {
			t.Fatalf("server not ready:\n%s", log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	kids := childrenOf(cmd.Process.Pid)
	if len(kids) != 1 {
		t.Fatalf("server has %d children, want the helper alone", len(kids))
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", kids[0]))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", kids[0], e.Name()))
		if strings.Contains(target, "stray-") {
			t.Errorf("helper holds fd %s -> %s, inherited from the server's parent", e.Name(), target)
		}
	}
	if !strings.Contains(log.String(), `"closed descriptors inherited by accident"`) {
		t.Errorf("helper did not log the stray descriptors it closed:\n%s", log.String())
	}
}
