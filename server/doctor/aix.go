package doctor

import (
	"fmt"
	"strings"

	"github.com/portgate/portgate/helper"
)

// aix checks that enhanced RBAC is on, that the privileged command
// database gives the helper PV_NET_PORT, that the kernel security tables
// hold the same (setkst), and runs the helper's own check.
func (d *diagnosis) aix() {
	path := d.opts.HelperPath
	remedy := helper.AIXRemedies(path)[0]
	remedy = remedy[strings.Index(remedy, "setsecattr"):]

	out, err := d.host.Run(d.ctx, "lsattr", "-El", "sys0", "-a", "enhanced_RBAC")
	if err == nil && out.Exit == 0 {
		if f := strings.Fields(out.Text); len(f) >= 2 && f[1] == "true" {
			d.report.ok("enhanced RBAC", "enhanced_RBAC is true")
		} else {
			d.report.problem("enhanced RBAC", "enhanced_RBAC is not true: "+strings.TrimSpace(out.Text),
				"chdev -l sys0 -a enhanced_RBAC=true, then reboot")
		}
	}

	database := d.innatePrivileges("lssecattr", "privileged command database", remedy, "-c", "-a", "innateprivs", path)
	kernel := d.innatePrivileges("lskst", "kernel security tables", "setkst", "-t", "cmd", path)
	check := d.runHelperCheck()
	switch {
	case check.ok:
		d.grant("rbac", true)
	case database && kernel:
		d.report.info("fix", "the helper's file holds PV_NET_PORT, but its check failed: check that the account's domains match the helper's (lssecattr -o -a domains "+path+")")
	}
}

// innatePrivileges runs an lssecattr-style command and reports whether its
// output gives the helper PV_NET_PORT among innateprivs.
func (d *diagnosis) innatePrivileges(command, what, fix string, args ...string) bool {
	out, err := d.host.Run(d.ctx, command, args...)
	if err != nil || out.Exit != 0 {
		d.report.problem(what, fmt.Sprintf("%s: %s", command, orError(out, err)), fix)
		return false
	}
	privs := parseSecAttr(out.Text)["innateprivs"]
	if hasPrivilege(privs, "PV_NET_PORT") {
		d.report.ok(what, "the helper has innateprivs="+privs)
		return true
	}
	d.report.problem(what, fmt.Sprintf("the helper's innateprivs %q lack PV_NET_PORT", privs), fix)
	return false
}

// parseSecAttr reads attribute=value pairs from lssecattr or lskst output,
// either on one line after the object name or one per line in the -F
// stanza form.
func parseSecAttr(text string) map[string]string {
	attrs := map[string]string{}
	for _, field := range strings.Fields(text) {
		if k, v, ok := strings.Cut(field, "="); ok {
			attrs[k] = v
		}
	}
	return attrs
}
