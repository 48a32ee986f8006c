package helper

import "fmt"

// DropPrivileges reduces the helper's privileges to net_privaddr and the
// basic privileges it uses, checks with a probe bind that it can still
// bind privileged ports, and reports the mechanism. It refuses to run
// setuid, setgid or as root.
//
// The effective and permitted sets keep net_privaddr, net_access,
// file_read and file_write where the process holds them and the kernel
// defines them. The inheritable and limit sets become empty, so nothing
// the helper could execute would inherit a privilege. The packaged SMF
// method credential already limits the helper to basic,net_privaddr
// before it starts.
//
// TODO: this drop is cross-compiled and linked only, never run on Solaris or illumos.
func DropPrivileges() (*Mechanism, error) {
	if err := refuseSetuidOrRoot(); err != nil {
		return nil, err
	}
	keptSpec, err := dropToKeptPrivileges()
	if err != nil {
		return nil, err
	}
	m := &Mechanism{UnprivilegedPortStart: -1}
	source := fmt.Sprintf("the net_privaddr privilege; effective and permitted sets reduced to the held ones of %s, inheritable and limit sets empty", keptSpec)
	err = probeMechanism(m, "privilege", source, SolarisRemedies(currentAccount(), "svc:/network/portgate-helper:default"))
	if err != nil {
		return nil, err
	}
	return m, nil
}

// dropToKeptPrivileges runs privDropSteps and returns the specification
// of the privileges kept.
func dropToKeptPrivileges() (string, error) {
	spec, err := keptPrivilegeSpec(privilegeKnown)
	if err != nil {
		return "", fmt.Errorf("drop privileges: %w", err)
	}
	keep, err := parsePrivSet(spec)
	if err != nil {
		return "", fmt.Errorf("drop privileges: %w", err)
	}
	defer keep.free()
	permitted, err := emptyPrivSet()
	if err != nil {
		return "", fmt.Errorf("drop privileges: %w", err)
	}
	defer permitted.free()
	if err := readProcessPrivSet(privPermitted, permitted); err != nil {
		return "", fmt.Errorf("drop privileges: %w", err)
	}
	// PRIV_SET may only shrink the permitted set, so keep just the kept
	// privileges the process already holds.
	keep.intersect(permitted)
	empty, err := emptyPrivSet()
	if err != nil {
		return "", fmt.Errorf("drop privileges: %w", err)
	}
	defer empty.free()

	for _, step := range privDropSteps {
		set := empty
		if step.Keep {
			set = keep
		}
		if err := setProcessPrivSet(step.Set, set); err != nil {
			return "", fmt.Errorf("drop privileges to %s: %w", spec, err)
		}
	}
	return spec, nil
}
