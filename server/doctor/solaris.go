package doctor

import (
	"fmt"
	"strings"

	"github.com/portgate/portgate/helper"
)

// solaris checks the method credential of the helper's SMF service, the
// privileges of a running helper, and the helper's own check.
func (d *diagnosis) solaris() {
	fmri := d.opts.SMFService
	remedies := helper.SolarisRemedies(d.opts.Account, fmri)
	credential := false
	out, err := d.host.Run(d.ctx, "svcprop", "-p", "start/privileges", fmri)
	switch {
	case err != nil || out.Exit != 0:
		d.report.info("SMF method credential", fmt.Sprintf("svcprop -p start/privileges %s: %s", fmri, orError(out, err)),
			"import the packaged manifest: svccfg import /var/svc/manifest/network/portgate-helper.xml")
	case hasPrivilege(out.Text, "net_privaddr"):
		credential = true
		d.report.ok("SMF method credential", fmt.Sprintf("%s starts with privileges %s", fmri, strings.TrimSpace(out.Text)))
	default:
		d.report.problem("SMF method credential", fmt.Sprintf("%s starts with privileges %q, without net_privaddr", fmri, strings.TrimSpace(out.Text)), remedies[0])
	}

	running := d.checkRunningPrivileges()
	check := d.runHelperCheck()
	switch {
	case running || check.ok:
		d.grant("privilege", true)
	case credential:
		d.report.info("helper daemon", "the helper is not running: svcadm enable "+fmri)
		d.grant("privilege", true)
	default:
		d.report.info("fix", "or give the account the privilege: "+strings.TrimPrefix(remedies[1], "or give the account the privilege by default: "))
	}
}

func orError(out Output, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("exit %d: %s", out.Exit, strings.TrimSpace(out.Text))
}

// hasPrivilege reports whether a comma-separated privilege set, as svcprop
// or ppriv print it, contains name or "all". An entry of an Oracle Solaris
// extended privilege policy, such as {net_privaddr}:80/tcp, counts: it
// grants the privilege for the objects it names.
func hasPrivilege(set, name string) bool {
	for _, p := range strings.Split(strings.TrimSpace(set), ",") {
		if inner, ok := strings.CutPrefix(p, "{"); ok {
			p, _, _ = strings.Cut(inner, "}")
		}
		if p == name || p == "all" {
			return true
		}
	}
	return false
}

// checkRunningPrivileges finds a running portgate-helper with pgrep and
// reads its effective set with ppriv. It reports whether one runs with
// net_privaddr.
func (d *diagnosis) checkRunningPrivileges() bool {
	out, err := d.host.Run(d.ctx, "pgrep", "-x", "portgate-helper")
	if err != nil || out.Exit != 0 {
		return false
	}
	pid := strings.Fields(out.Text)[0]
	pp, err := d.host.Run(d.ctx, "ppriv", pid)
	if err != nil || pp.Exit != 0 {
		d.report.info("running helper", fmt.Sprintf("ppriv %s: %s", pid, orError(pp, err)))
		return false
	}
	sets := parsePpriv(pp.Text)
	if hasPrivilege(sets["E"], "net_privaddr") {
		d.report.ok("running helper", fmt.Sprintf("portgate-helper (pid %s) holds net_privaddr; effective set %s", pid, sets["E"]))
		return true
	}
	d.report.problem("running helper", fmt.Sprintf("portgate-helper (pid %s) runs without net_privaddr; effective set %s", pid, sets["E"]),
		helper.SolarisRemedies(d.opts.Account, d.opts.SMFService)[0])
	return false
}

// parsePpriv reads the privilege sets of `ppriv PID` output, lines such as
// "\tE: basic,net_privaddr", keyed by the set's letter (E, I, P, L).
func parsePpriv(text string) map[string]string {
	sets := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ": ")
		if ok && len(k) == 1 && strings.Contains("EIPL", k) {
			sets[k] = strings.TrimSpace(v)
		}
	}
	return sets
}
