package helper

// DropPrivileges checks that the helper holds net_privaddr and reports the
// mechanism. It refuses to run setuid, setgid or as root. The SMF method
// credential of the packaged service limits the helper to
// basic,net_privaddr before it starts.
func DropPrivileges() (*Mechanism, error) {
	if err := refuseSetuidOrRoot(); err != nil {
		return nil, err
	}
	m := &Mechanism{UnprivilegedPortStart: -1}
	// TODO: drop every privilege but net_privaddr from the effective, permitted and limit sets with setppriv(2), which golang.org/x/sys/unix does not wrap.
	m.Notes = append(m.Notes, "privilege sets not reduced to net_privaddr: portgate-helper cannot call setppriv yet, so it keeps the privileges its SMF method credential or account gives it")
	err := probeMechanism(m, "privilege", "the net_privaddr privilege", SolarisRemedies(currentAccount(), "svc:/network/portgate-helper:default"))
	if err != nil {
		return nil, err
	}
	return m, nil
}
