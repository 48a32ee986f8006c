package helper

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// DropPrivileges reports how the helper may bind privileged ports on
// FreeBSD: every account may when net.inet.ip.portrange.reservedhigh is
// below 1, and mac_portacl rules for the helper's uid allow the rest. It
// refuses to run setuid, setgid or as root.
func DropPrivileges() (*Mechanism, error) {
	if err := refuseSetuidOrRoot(); err != nil {
		return nil, err
	}
	m := &Mechanism{UnprivilegedPortStart: -1}
	if high, err := unix.SysctlUint32("net.inet.ip.portrange.reservedhigh"); err == nil {
		m.UnprivilegedPortStart = int(high) + 1
		if high == 0 {
			m.Kind, m.Source = "reservedhigh", "net.inet.ip.portrange.reservedhigh is 0"
			return m, nil
		}
	}
	uid := uint32(os.Getuid())
	rules, _ := unix.Sysctl("security.mac.portacl.rules")
	source := fmt.Sprintf("mac_portacl rules for uid %d", uid)
	if err := probeMechanism(m, "mac_portacl", source, FreeBSDRemedies(uid, nil, rules)); err != nil {
		return nil, err
	}
	return m, nil
}
