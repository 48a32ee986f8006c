package helper

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// DropPrivileges reports how the helper may bind privileged ports on
// FreeBSD, as FreeBSDMechanism decides from the sysctls. It rejects
// running setuid, setgid or as root.
func DropPrivileges() (*Mechanism, error) {
	if err := refuseSetuidOrRoot(); err != nil {
		return nil, err
	}
	m := &Mechanism{UnprivilegedPortStart: -1}
	high, err := unix.SysctlUint32("net.inet.ip.portrange.reservedhigh")
	if err != nil {
		return nil, fmt.Errorf("read the sysctl net.inet.ip.portrange.reservedhigh: %w", err)
	}
	m.UnprivilegedPortStart = int(high) + 1
	rules, _ := unix.Sysctl("security.mac.portacl.rules")
	if kind, source, ok := FreeBSDMechanism(high, rules); ok {
		m.Kind, m.Source = kind, source
		return m, nil
	}
	// mac_portacl never grants the reserved-port privilege itself, so with
	// reservedhigh above 0 the ports up to it stay root's.
	m.Kind = "none"
	m.Problems = append([]string{fmt.Sprintf("net.inet.ip.portrange.reservedhigh is %d, so ports up to it need root whatever mac_portacl allows", high)},
		FreeBSDRemedies(uint32(os.Getuid()), nil, rules)...)
	return m, nil
}
