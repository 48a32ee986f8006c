package helper

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// DropPrivileges reports how the helper may bind privileged ports on
// macOS: since 10.14 any account may bind them on wildcard addresses, so
// the helper holds no privilege at all. It refuses to run setuid, setgid
// or as root.
func DropPrivileges() (*Mechanism, error) {
	if err := refuseSetuidOrRoot(); err != nil {
		return nil, err
	}
	m := &Mechanism{UnprivilegedPortStart: -1}
	version, err := unix.Sysctl("kern.osproductversion")
	if err != nil {
		return nil, fmt.Errorf("read the macOS version (sysctl kern.osproductversion): %w", err)
	}
	if !MacOSWildcardBindFree(version) {
		m.Kind, m.Problems = "none", MacOSRemedies()
		return m, nil
	}
	m.Kind = "unprivileged-wildcard"
	m.Source = fmt.Sprintf("macOS %s lets any account bind wildcard addresses", version)
	m.Notes = append(m.Notes, "binding a specific address below port 1024 still needs root on macOS: use a launchd job with Sockets or a pf anchor for it")
	return m, nil
}
