//go:build solaris || aix || freebsd || darwin

package helper

import (
	"fmt"
	"net/netip"
	"os"
	"runtime"
)

// probeBindRight binds 127.0.0.1:probePort and closes it. It reports true
// when the kernel allowed the bind or answered "address in use", which
// these kernels check only after the privilege.
func probeBindRight() (bool, error) {
	return probeOutcome(CheckBind(netip.MustParseAddr("127.0.0.1"), probePort))
}

// refuseSetuidOrRoot also returns an error when the helper runs as root:
// on these systems it cannot reduce root's privileges to the bind right
// alone, so it must start as an account that holds only that right.
func refuseSetuidOrRoot() error {
	if err := refuseSetuid(); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		return fmt.Errorf("portgate-helper runs as root, whose privileges it cannot reduce to the bind right on %s: start it as the service account, granted the right as portgate doctor shows", runtime.GOOS)
	}
	return nil
}

// probeMechanism fills in m from a probe bind: kind and source when the
// right is held, problems otherwise.
func probeMechanism(m *Mechanism, kind, source string, problems []string) error {
	held, err := probeBindRight()
	if err != nil {
		return err
	}
	if held {
		m.Kind, m.Source = kind, source
		return nil
	}
	m.Kind, m.Problems = "none", problems
	return nil
}
