package helper

import "os"

// DropPrivileges checks at start that the helper holds PV_NET_PORT, which
// AIX RBAC grants as an innate privilege of the helper file, and reports
// the mechanism. It refuses to run setuid, setgid or as root.
func DropPrivileges() (*Mechanism, error) {
	if err := refuseSetuidOrRoot(); err != nil {
		return nil, err
	}
	exe, _ := os.Executable()
	m := &Mechanism{UnprivilegedPortStart: -1}
	if err := probeMechanism(m, "rbac", "PV_NET_PORT, an innate privilege of "+exe, AIXRemedies(exe)); err != nil {
		return nil, err
	}
	return m, nil
}
