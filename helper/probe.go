//go:build solaris || aix

package helper

import "net/netip"

// probeBindRight binds 127.0.0.1:probePort and closes it. It reports true
// when the kernel allowed the bind or answered "address in use", which
// these kernels check only after the privilege.
func probeBindRight() (bool, error) {
	return probeOutcome(CheckBind(netip.MustParseAddr("127.0.0.1"), probePort))
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
