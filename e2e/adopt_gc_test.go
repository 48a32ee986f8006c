package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestAdoptedSocketsSurviveGC adopts three inherited listeners and gets
// three more from the helper, then runs the server with GOGC=1, so that
// the garbage collector runs all the time, while connections hit all six
// and services come and go, opening and closing descriptors. A wrapper
// that closed its descriptor twice, or a finalizer that closed a number
// now reused, would break a listener: every request must succeed and no
// EBADF may appear. The churn runs for soakDuration.
func TestAdoptedSocketsSurviveGC(t *testing.T) {
	requireRoot(t)
	soak := soakDuration(t)
	writePolicy(t, basePolicy)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	ns := newNetns(t)
	dir := nobodyDir(t)
	config := fmt.Sprintf(`
[manager]
socket = %q
services_file = %q

[[service]]
name = "inherited"
kind = "echo"
listen = ["tcp://127.0.0.1:700", "tcp://127.0.0.1:701", "tcp://127.0.0.1:702"]

[[service]]
name = "helper"
kind = "echo"
listen = ["tcp://127.0.0.1:703", "tcp://127.0.0.1:704", "tcp://127.0.0.1:705"]
`, filepath.Join(dir, "manager.sock"), filepath.Join(dir, "services.toml"))
	argv := []string{buildTool(t, "fdpass"), "tcp-listen=127.0.0.1:700", "tcp-listen=127.0.0.1:701", "tcp-listen=127.0.0.1:702", "--", "env", "GOGC=1"}
	srv, err := startParent(t, ns, append(argv, serveArgv(t, helper, config)...), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &managed{server: srv, ns: ns, dir: dir, socket: filepath.Join(dir, "manager.sock")}

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for port := 700; port <= 705; port++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			// At most 1,000 echoes a second per listener, and no more
			// than the soak time.
			for i := 0; i < 1000*int(soak.Seconds()+1); i++ {
				select {
				case <-stop:
					return
				default:
				}
				msg := fmt.Sprintf("%d-%d", port, i)
				if got, err := echoVia(ns, addr, msg); err != nil || got != msg {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%s: got %q, %v", addr, got, err))
					continue
				}
				ok.Add(1)
			}
		}()
	}
	// Churn descriptors in the server for a bounded time.
	for end := time.Now().Add(soak); time.Now().Before(end); {
		m.mustCtl(t, "add", "--name", "churn", "--kind", "echo", "--listen", "tcp://127.0.0.1:706", "--listen", "udp://127.0.0.1:706")
		m.mustCtl(t, "remove", "churn")
	}
	close(stop)
	wg.Wait()
	t.Logf("%d echoes succeeded, %d failed", ok.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Errorf("%d echoes failed, want 0; first: %v", failed.Load(), firstErr.Load())
	}
	if ok.Load() < 60*int64(soak.Seconds()) {
		t.Errorf("only %d echoes succeeded, want a steady load on all six listeners", ok.Load())
	}
	log := srv.log.String()
	for _, bad := range []string{"bad file descriptor", "EBADF", `"message":"accept failed"`} {
		if strings.Contains(log, bad) {
			t.Errorf("log contains %q", bad)
		}
	}
	if n := strings.Count(log, `"inherited socket adopted"`); n != 3 {
		t.Errorf("adopted %d sockets, want 3", n)
	}
}

// soakDuration is how long the long-running tests churn: PORTGATE_SOAK
// (a Go duration) when set, three minutes when CI=true, else ten seconds.
func soakDuration(t *testing.T) time.Duration {
	t.Helper()
	if v := os.Getenv("PORTGATE_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > time.Hour {
			t.Fatalf("PORTGATE_SOAK=%q: want a duration such as 3m, at most 1h", v)
		}
		return d
	}
	if os.Getenv("CI") == "true" {
		return 3 * time.Minute
	}
	return 10 * time.Second
}
