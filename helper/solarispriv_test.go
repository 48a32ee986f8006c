package helper

import (
	"strings"
	"testing"
)

// knownPrivileges returns a lookup that reports true only for names.
func knownPrivileges(names ...string) func(string) bool {
	return func(name string) bool {
		for _, n := range names {
			if n == name {
				return true
			}
		}
		return false
	}
}

func TestKeptPrivilegeSpec(t *testing.T) {
	cases := []struct {
		name  string
		known func(string) bool
		want  string
	}{
		{"illumos and Solaris 11",
			knownPrivileges("net_privaddr", "net_access", "file_read", "file_write", "proc_fork", "sys_nfs"),
			"net_privaddr,net_access,file_read,file_write"},
		{"Solaris 10 without the newer basic privileges",
			knownPrivileges("net_privaddr", "proc_fork", "proc_exec"),
			"net_privaddr"},
		{"file_read without file_write",
			knownPrivileges("net_privaddr", "file_read"),
			"net_privaddr,file_read"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := keptPrivilegeSpec(tc.known)
			if err != nil {
				t.Fatalf("keptPrivilegeSpec: %v", err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestKeptPrivilegeSpecNeedsBindRight(t *testing.T) {
	got, err := keptPrivilegeSpec(knownPrivileges("net_access", "file_read"))
	if err == nil {
		t.Fatalf("got %q, want an error for a kernel without net_privaddr", got)
	}
	if !strings.Contains(err.Error(), "no net_privaddr privilege") {
		t.Errorf("error: got %q, want it to name net_privaddr", err)
	}
}

// The helper binds, and so must keep the bind right and net_access, but
// it never forks or runs a program.
func TestKeptPrivilegesList(t *testing.T) {
	kept := map[string]bool{}
	for _, p := range keptPrivileges {
		if kept[p.Name] {
			t.Errorf("%s listed twice", p.Name)
		}
		kept[p.Name] = true
		if p.Reason == "" {
			t.Errorf("%s has no reason", p.Name)
		}
	}
	if keptPrivileges[0].Name != privBindRight {
		t.Errorf("first kept privilege: got %s, want %s", keptPrivileges[0].Name, privBindRight)
	}
	for _, name := range []string{"net_privaddr", "net_access"} {
		if !kept[name] {
			t.Errorf("%s is not kept", name)
		}
	}
	for _, name := range []string{"proc_fork", "proc_exec", "proc_session", "proc_info", "file_link_any", "sys_nfs"} {
		if kept[name] {
			t.Errorf("%s is kept, want it dropped", name)
		}
	}
}

// Each set is set once. The permitted set goes before the effective set,
// because reducing it also reduces the effective set, and the sets the
// kernel passes on at exec end up empty.
func TestPrivDropSteps(t *testing.T) {
	position := map[string]int{}
	for i, step := range privDropSteps {
		if _, ok := position[step.Set]; ok {
			t.Errorf("%s set twice", step.Set)
		}
		position[step.Set] = i
	}
	for _, set := range []string{privPermitted, privEffective, privInheritable, privLimit} {
		if _, ok := position[set]; !ok {
			t.Errorf("%s is never set", set)
		}
	}
	if position[privPermitted] > position[privEffective] {
		t.Errorf("Permitted at step %d, after Effective at step %d", position[privPermitted], position[privEffective])
	}
	keeps := map[string]bool{privPermitted: true, privEffective: true, privInheritable: false, privLimit: false}
	for _, step := range privDropSteps {
		if step.Keep != keeps[step.Set] {
			t.Errorf("%s: got Keep %t, want %t", step.Set, step.Keep, keeps[step.Set])
		}
	}
}
