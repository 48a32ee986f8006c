package doctor

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/portgate/portgate/helper"
)

// freebsd checks net.inet.ip.portrange.reservedhigh, the mac_portacl
// module and its rules for the account's policy ports, and runs the
// helper's own check when these do not settle it. mac_portacl never grants
// the reserved-port privilege: it works with reservedhigh at 0, where a
// port that no rule names is open to every account and a port that some
// rule names is open to the ids it names alone.
func (d *diagnosis) freebsd() {
	high := -1
	if text, ok := d.sysctl("net.inet.ip.portrange.reservedhigh"); ok {
		if n, err := strconv.Atoi(text); err == nil {
			high = n
		}
	}
	var uid uint32
	if d.account != nil {
		uid = d.account.UID
	}
	remedies := helper.FreeBSDRemedies(uid, d.ports, "")
	switch {
	case high == 0:
		d.report.ok("reservedhigh", "net.inet.ip.portrange.reservedhigh is 0: mac_portacl rules decide who binds the ports they name, and the others are open to every account")
	case high > 0:
		d.report.problem("reservedhigh", fmt.Sprintf("net.inet.ip.portrange.reservedhigh is %d: ports up to it need root, whatever mac_portacl allows", high), remedies...)
	default:
		d.report.info("reservedhigh", "could not read net.inet.ip.portrange.reservedhigh")
	}

	loaded := false
	if out, err := d.host.Run(d.ctx, "kldstat", "-q", "-m", "mac_portacl"); err == nil && out.Exit == 0 {
		loaded = true
		d.report.ok("mac_portacl", "the mac_portacl module is loaded")
	} else {
		d.report.info("mac_portacl", "the mac_portacl module is not loaded, so no rule reserves a port for the service account",
			"kldload mac_portacl && sysrc -f /boot/loader.conf mac_portacl_load=YES")
	}
	ruled, blocked := false, false
	if loaded && d.account != nil {
		ruled, blocked = d.checkPortACLRules()
	}

	if high == 0 && !blocked {
		kind := "reservedhigh"
		if ruled {
			kind = "mac_portacl"
		}
		d.grant(kind, false)
		return
	}
	if d.runHelperCheck().ok {
		d.grant("mac_portacl", true)
	}
}

// checkPortACLRules compares the loaded rules with the account's policy
// ports. It reports whether any rules are loaded and whether a rule for
// another id blocks one of the ports.
func (d *diagnosis) checkPortACLRules() (ruled, blocked bool) {
	text, _ := d.sysctl("security.mac.portacl.rules")
	uid := d.account.UID
	rules, err := helper.ParsePortACLRules(text)
	if err != nil {
		d.report.problem("mac_portacl rules", err.Error(), helper.FreeBSDRemedies(uid, d.ports, "")...)
		return false, true
	}
	if b := helper.BlockedPortACLRules(rules, uid, d.ports); len(b) > 0 {
		d.report.problem("mac_portacl rules", fmt.Sprintf("security.mac.portacl.rules reserves ports for other ids and lacks %s", helper.FormatPortACLRules(b)),
			helper.FreeBSDRemedies(uid, d.ports, text)...)
		return len(rules) > 0, true
	}
	if m := helper.MissingPortACLRules(rules, uid, d.ports); len(m) > 0 {
		d.report.info("mac_portacl rules", fmt.Sprintf("no rule names %s, so every account may bind those ports: add rules to reserve them for uid %d", helper.FormatPortACLRules(m), uid),
			helper.FreeBSDRemedies(uid, d.ports, text)...)
		return len(rules) > 0, false
	}
	d.report.ok("mac_portacl rules", fmt.Sprintf("uid %d may bind %s, and no other account may", uid, formatPorts(d.ports)))
	return true, false
}

func (d *diagnosis) sysctl(name string) (string, bool) {
	out, err := d.host.Run(d.ctx, "sysctl", "-n", name)
	if err != nil || out.Exit != 0 {
		return "", false
	}
	return strings.TrimSpace(out.Text), true
}
