package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/portgate/portgate/helper"
	"github.com/portgate/portgate/protocol"
)

// maxListedPorts bounds the ports doctor lists for the account, so that a
// policy allowing 1-1023 does not produce 2,046 mac_portacl rules.
const maxListedPorts = 32

func (d *diagnosis) checkAccount() {
	a, err := d.host.LookupAccount(d.opts.Account)
	if err != nil {
		d.report.problem("service account", fmt.Sprintf("account %q not found: %v", d.opts.Account, err), createAccountCommand(d.opts.GOOS, d.opts.Account))
		return
	}
	d.account = a
	d.report.ok("service account", fmt.Sprintf("%s is uid %d, gid %d", a.Name, a.UID, a.GID))
}

// createAccountCommand returns the command that creates a system account
// on goos.
func createAccountCommand(goos, name string) string {
	switch goos {
	case "linux":
		return fmt.Sprintf("useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin %s", name)
	case "freebsd":
		return fmt.Sprintf("pw groupadd %s && pw useradd %s -g %s -d /nonexistent -s /usr/sbin/nologin", name, name, name)
	case "darwin":
		return fmt.Sprintf("create the account %s with dscl, or run portgate as an existing account with --account", name)
	case "aix":
		return fmt.Sprintf("mkgroup %s && mkuser pgrp=%s home=/nonexistent shell=/bin/false %s", name, name, name)
	}
	return fmt.Sprintf("groupadd %s && useradd -g %s -d /nonexistent -s /bin/false %s", name, name, name)
}

// checkHelperFile checks that the helper exists, belongs to root, is
// writable by no one else, is not setuid or setgid, and that the account
// may run it.
func (d *diagnosis) checkHelperFile() {
	path := d.opts.HelperPath
	st, err := d.host.Stat(path)
	if err != nil {
		d.report.problem("helper file", fmt.Sprintf("%s: %v", path, err), "install portgate-helper at "+path+", or pass its path with --helper")
		return
	}
	var faults []string
	if st.UID != 0 {
		faults = append(faults, fmt.Sprintf("owned by uid %d, not root", st.UID))
	}
	if st.Mode.Perm()&0o022 != 0 {
		faults = append(faults, fmt.Sprintf("writable by group or others (mode %04o)", st.Mode.Perm()))
	}
	if st.Mode&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
		faults = append(faults, "setuid or setgid, which the helper rejects")
	}
	if d.account != nil && !mayExecute(st, d.account) {
		faults = append(faults, fmt.Sprintf("not executable by %s", d.account.Name))
	}
	if len(faults) > 0 {
		d.report.problem("helper file", path+": "+strings.Join(faults, ", "),
			fmt.Sprintf("chown root:%s %s && chmod 0750 %s", d.opts.Account, path, path))
		return
	}
	d.report.ok("helper file", fmt.Sprintf("%s: owner uid %d, gid %d, mode %04o", path, st.UID, st.GID, st.Mode.Perm()))
}

func mayExecute(st FileInfo, a *Account) bool {
	perm := st.Mode.Perm()
	switch {
	case a.UID == st.UID:
		return perm&0o100 != 0
	case containsID(a.Groups, st.GID) || a.GID == st.GID:
		return perm&0o010 != 0
	}
	return perm&0o001 != 0
}

func containsID(ids []uint32, id uint32) bool {
	for _, v := range ids {
		if v == id {
			return true
		}
	}
	return false
}

// checkPolicy checks the policy file as the helper does: owned by root and
// writable by no one else, with its directory, and valid. It then lists
// the privileged ports the policy allows the account.
func (d *diagnosis) checkPolicy() {
	path := d.opts.PolicyPath
	for _, p := range []string{filepath.Dir(path), path} {
		st, err := d.host.Stat(p)
		if errors.Is(err, fs.ErrNotExist) && p == path {
			d.report.problem("policy", path+" does not exist, so the helper grants nothing",
				fmt.Sprintf("write a policy to %s, for example:\n%s", path, helper.PolicyExample))
			return
		}
		if err != nil {
			d.report.problem("policy", fmt.Sprintf("%s: %v", p, err), fmt.Sprintf("mkdir -p %s && chmod 0755 %s", p, p))
			return
		}
		if st.UID != 0 || st.Mode.Perm()&0o022 != 0 {
			d.report.problem("policy", fmt.Sprintf("%s is owned by uid %d with mode %04o: the helper rejects a policy or directory not owned by root or writable by group or others", p, st.UID, st.Mode.Perm()),
				fmt.Sprintf("chown root:0 %s && chmod go-w %s", p, p))
			return
		}
	}
	data, err := d.host.ReadFile(path)
	if err != nil {
		d.report.problem("policy", fmt.Sprintf("read %s: %v", path, err), "make "+path+" readable by the service account: chmod 0644 "+path)
		return
	}
	pol, err := helper.ParsePolicy(string(data))
	if err != nil {
		d.report.problem("policy", fmt.Sprintf("%s is invalid: %v", path, err), "correct "+path+"; the helper rejects it as it is")
		return
	}
	if d.account == nil {
		d.report.info("policy", fmt.Sprintf("%s is valid, with %d rules", path, len(pol.Rules)))
		return
	}
	d.ports = allowedPorts(pol, d.account)
	d.checkPort = loopbackPort(pol, d.account, d.ports)
	if len(d.ports) == 0 {
		d.report.problem("policy", fmt.Sprintf("%s allows %s (uid %d) no port below 1024", path, d.account.Name, d.account.UID),
			fmt.Sprintf("add a rule to %s such as:\n[[allow]]\nusers = [%q]\naddresses = [\"*\"]\nports = [80, 443]", path, d.account.Name))
		return
	}
	d.policyOK = true
	d.report.ok("policy", fmt.Sprintf("%s allows %s privileged ports %s", path, d.account.Name, formatPorts(d.ports)))
}

// peer returns the credentials that the helper reads for a process of the
// account started with its groups, as a service manager starts it.
func (a *Account) peer() helper.Peer {
	return helper.Peer{UID: a.UID, GID: a.GID, Groups: a.Groups}
}

// allowedPorts lists the ports below 1024 that some rule of pol allows the
// account, by its uid or one of its groups as the helper matches them, at
// most maxListedPorts of them.
func allowedPorts(pol *helper.Policy, a *Account) []uint16 {
	seen := map[uint16]bool{}
	var ports []uint16
	for _, r := range pol.Rules {
		if !r.UIDs[a.UID] && !a.peer().MemberOf(r.GIDs) {
			continue
		}
		for _, pr := range r.Ports {
			for p := int(pr.Low); p <= int(pr.High) && p < 1024; p++ {
				if seen[uint16(p)] || len(ports) == maxListedPorts {
					continue
				}
				seen[uint16(p)] = true
				ports = append(ports, uint16(p))
			}
		}
	}
	return ports
}

// loopbackPort returns the first of ports that pol lets the account bind
// over TCP on 127.0.0.1, where portgate-helper check binds, or 0.
func loopbackPort(pol *helper.Policy, a *Account, ports []uint16) uint16 {
	peer := a.peer()
	for _, p := range ports {
		if pol.Allow(peer, protocol.TCP, netip.MustParseAddr("127.0.0.1"), p) != 0 {
			return p
		}
	}
	return 0
}

func formatPorts(ports []uint16) string {
	texts := make([]string, len(ports))
	for i, p := range ports {
		texts[i] = fmt.Sprint(p)
	}
	return strings.Join(texts, ", ")
}

// helperCheck is the result of portgate-helper check run as the account.
type helperCheck struct {
	ran       bool
	ok        bool
	mechanism string
	problems  []string
}

// runHelperCheck runs the installed helper's own check as the account:
// the one test that covers every way the right can be lost. The helper
// binds a loopback port and closes it at once.
func (d *diagnosis) runHelperCheck() helperCheck {
	if d.account == nil {
		return helperCheck{}
	}
	checkedAs := d.account.Name
	if euid := d.host.Euid(); euid != 0 && uint32(euid) != d.account.UID {
		d.report.info("helper check", fmt.Sprintf("doctor runs as uid %d, so the check runs as that uid, not as %s: run doctor as root for an exact answer", euid, d.account.Name))
		checkedAs = fmt.Sprintf("uid %d (not %s: run doctor as root)", euid, d.account.Name)
	}
	args := []string{"check"}
	if d.checkPort != 0 {
		args = append(args, "--port", strconv.Itoa(int(d.checkPort)))
	}
	out, err := d.host.RunAs(d.ctx, d.account, d.opts.HelperPath, args...)
	if err != nil {
		d.report.problem("helper check", fmt.Sprintf("run %s check as %s: %v", d.opts.HelperPath, d.account.Name, err))
		return helperCheck{}
	}
	c := parseHelperCheck(out)
	if c.mechanism != "" && c.mechanism != "none" {
		d.report.Mechanism = c.mechanism
	}
	if c.ok {
		d.report.ok("helper check", fmt.Sprintf("portgate-helper check as %s: mechanism %s, loopback bind of a privileged port ok", checkedAs, c.mechanism))
	} else {
		d.report.problem("helper check", fmt.Sprintf("portgate-helper check as %s failed (exit %d): %s", checkedAs, out.Exit, lastLine(out.Text)), c.problems...)
	}
	return c
}

// parseHelperCheck reads the output of portgate-helper check: a
// "mechanism: KIND" line, "problem: TEXT" lines, and a last line "bind
// ADDRESS: ok" when the bind worked.
func parseHelperCheck(out Output) helperCheck {
	c := helperCheck{ran: true}
	bindOK := false
	for _, line := range strings.Split(out.Text, "\n") {
		key, value, _ := strings.Cut(line, ": ")
		switch {
		case key == "mechanism":
			c.mechanism = value
		case key == "problem":
			c.problems = append(c.problems, value)
		case strings.HasPrefix(key, "bind ") && value == "ok":
			bindOK = true
		}
	}
	c.ok = out.Exit == 0 && bindOK
	return c
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
