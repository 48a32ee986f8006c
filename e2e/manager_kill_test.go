package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	pgserver "github.com/portgate/portgate/server"
)

// TestServicesFileSurvivesKill kills the server with SIGKILL at a random
// moment during rounds of portgate ctl add and remove. After each kill
// the services file must parse and hold the set of services from just
// before or just after the change in flight, and a restarted server must
// bring back exactly that set.
func TestServicesFileSurvivesKill(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	dir := nobodyDir(t)
	ports := map[string]int{"b": 703, "c": 704, "d": 705}
	names := []string{"b", "c", "d"}

	var current []string
	rng := rand.New(rand.NewPCG(1, 2))
	changes := 0
	for round := 0; round < 50; round++ {
		m := startManaged(t, ns, helper, dir, serviceA)
		if got := runningNames(t, m); !slices.Equal(got, append([]string{"a"}, current...)) {
			t.Fatalf("round %d: services after restart %v, want a and %v", round, got, current)
		}

		// states[i] is the set after i changes of this round.
		states := [][]string{current}
		completed := make(chan int, 1)
		go func() {
			set := slices.Clone(current)
			done := 0
			for i := 0; i < 10; i++ {
				name := names[(round+i)%len(names)]
				var args []string
				if slices.Contains(set, name) {
					args = []string{"remove", name}
					set = slices.DeleteFunc(slices.Clone(set), func(n string) bool { return n == name })
				} else {
					args = []string{"add", "--name", name, "--kind", "echo", "--listen", fmt.Sprintf("tcp://127.0.0.1:%d", ports[name])}
					set = append(slices.Clone(set), name)
					sort.Strings(set)
				}
				states = append(states, set)
				if _, _, code := m.ctl(nobodyUID, args...); code != 0 {
					break
				}
				done++
			}
			completed <- done
		}()
		time.Sleep(time.Duration(5+rng.IntN(250)) * time.Millisecond)
		if err := unix.Kill(m.pid, unix.SIGKILL); err != nil {
			t.Fatalf("kill server: %v", err)
		}
		var done int
		select {
		case done = <-completed:
		case <-time.After(60 * time.Second):
			t.Fatal("ctl rounds did not end within 60s of the kill")
		}
		waitGone(t, m.pid)
		changes += done

		saved, err := pgserver.LoadServicesFile(m.services)
		if err != nil {
			data, _ := os.ReadFile(m.services)
			t.Fatalf("round %d: services file does not parse after SIGKILL: %v\n%s", round, err, data)
		}
		var got []string
		for _, sc := range saved {
			got = append(got, sc.Name)
		}
		sort.Strings(got)
		before, after := states[done], states[min(done+1, len(states)-1)]
		if !slices.Equal(got, before) && !slices.Equal(got, after) {
			t.Fatalf("round %d: services file holds %v after %d changes, want %v or %v", round, got, done, before, after)
		}
		current = got
	}
	t.Logf("%d changes completed before the kills", changes)
	ents, _ := os.ReadDir(dir)
	var left []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".services.toml") {
			left = append(left, e.Name())
		}
	}
	if len(left) > 0 {
		t.Logf("temporary files left by killed writes: %v", left)
	}
}

// runningNames returns the names of the running services, a first and
// the rest sorted.
func runningNames(t *testing.T, m *managed) []string {
	t.Helper()
	var names []string
	for _, line := range strings.Split(squeeze(m.mustCtl(t, "list")), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		if f[2] != "running" {
			t.Errorf("service %s is %s, want running", f[0], f[2])
		}
		names = append(names, f[0])
	}
	if len(names) > 1 {
		sort.Strings(names[1:])
	}
	return names
}

// waitGone waits until process pid has exited. A zombie counts as gone:
// after an upgrade the parent of the old process may be one that reaps
// late.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for unix.Kill(pid, 0) == nil && !strings.HasPrefix(procStatus(pid)["State"], "Z") {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still exists 10s after SIGKILL", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
