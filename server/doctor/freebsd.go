package doctor

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/portgate/portgate/helper"
)

// freebsd checks net.inet.ip.portrange.reservedhigh, the mac_portacl
// module and its rules for the account's policy ports, and runs the
// helper's own check.
func (d *diagnosis) freebsd() {
	if high, ok := d.sysctl("net.inet.ip.portrange.reservedhigh"); ok {
		if n, err := strconv.Atoi(high); err == nil && n == 0 {
			d.report.ok("reservedhigh", "net.inet.ip.portrange.reservedhigh is 0: every account may bind every port")
			d.grant("reservedhigh", false)
			return
		}
		d.report.info("reservedhigh", "net.inet.ip.portrange.reservedhigh is "+high+": mac_portacl decides who binds ports up to it")
	}
	loaded := false
	if out, err := d.host.Run(d.ctx, "kldstat", "-q", "-m", "mac_portacl"); err == nil && out.Exit == 0 {
		loaded = true
		d.report.ok("mac_portacl", "the mac_portacl module is loaded")
	} else {
		d.report.problem("mac_portacl", "the mac_portacl module is not loaded", "kldload mac_portacl && sysrc -f /boot/loader.conf mac_portacl_load=YES")
	}
	if d.account != nil && loaded {
		rules, _ := d.sysctl("security.mac.portacl.rules")
		parsed, err := helper.ParsePortACLRules(rules)
		missing := helper.MissingPortACLRules(parsed, d.account.UID, d.ports)
		switch {
		case err != nil:
			d.report.problem("mac_portacl rules", err.Error(), helper.FreeBSDRemedies(d.account.UID, d.ports, "")...)
		case len(missing) > 0:
			d.report.problem("mac_portacl rules", fmt.Sprintf("security.mac.portacl.rules lacks %s for the policy's ports", helper.FormatPortACLRules(missing)),
				helper.FreeBSDRemedies(d.account.UID, d.ports, rules)...)
		default:
			d.report.ok("mac_portacl rules", fmt.Sprintf("uid %d may bind %s", d.account.UID, formatPorts(d.ports)))
		}
	}
	if d.runHelperCheck().ok {
		d.grant("mac_portacl", true)
	}
}

func (d *diagnosis) sysctl(name string) (string, bool) {
	out, err := d.host.Run(d.ctx, "sysctl", "-n", name)
	if err != nil || out.Exit != 0 {
		return "", false
	}
	return strings.TrimSpace(out.Text), true
}
