package helper

import (
	"fmt"
	"strings"
)

// Names of the privilege sets of a Solaris or illumos process, as
// setppriv(2) takes them (PRIV_PERMITTED and the others in priv.h).
const (
	privPermitted   = "Permitted"
	privEffective   = "Effective"
	privInheritable = "Inheritable"
	privLimit       = "Limit"
)

// privBindRight is the privilege that lets a process bind the privileged
// ports: 1 to 1023 and the ports listed in tcp_extra_priv_ports and
// udp_extra_priv_ports, except the NFS ports 2049 and 4045, which need
// sys_nfs.
const privBindRight = "net_privaddr"

// keptPrivileges lists, in order, the privileges the helper keeps in its
// permitted and effective sets. Besides the bind right these are basic
// privileges, which Solaris 11 and illumos check and older kernels do not
// know.
var keptPrivileges = []struct{ Name, Reason string }{
	{privBindRight, "binds the privileged ports"},
	{"net_access", "opens TCP and UDP sockets"},
	{"file_read", "reads the policy, /etc/passwd and /etc/group, at start and on SIGHUP"},
	{"file_write", "creates the daemon's socket and lock file after the drop"},
}

// privStep is one setppriv(PRIV_SET) call of the drop: it sets Set to the
// kept privileges the process holds, or to the empty set.
type privStep struct {
	Set  string
	Keep bool
}

// privDropSteps are the calls of the drop, in order. The permitted set
// goes first: removing a privilege from it also removes it from the
// effective set, which the next step then sets equal to it. The kernel
// applies the limit set only at exec, and the helper never runs another
// program, so it empties the inheritable and limit sets and keeps working.
var privDropSteps = []privStep{
	{privPermitted, true},
	{privEffective, true},
	{privInheritable, false},
	{privLimit, false},
}

// keptPrivilegeSpec returns the privileges to keep as a specification for
// priv_str_to_set(3C), separated by commas. known reports whether the
// kernel defines a privilege. Privileges it does not define are left out,
// since the kernel checks none of them. The bind right must be known.
func keptPrivilegeSpec(known func(name string) bool) (string, error) {
	if !known(privBindRight) {
		return "", fmt.Errorf("this kernel defines no %s privilege: ppriv -l lists the privileges it has", privBindRight)
	}
	names := make([]string, 0, len(keptPrivileges))
	for _, p := range keptPrivileges {
		if known(p.Name) {
			names = append(names, p.Name)
		}
	}
	return strings.Join(names, ","), nil
}
