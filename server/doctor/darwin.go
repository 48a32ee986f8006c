package doctor

import (
	"strings"

	"github.com/portgate/portgate/helper"
)

// darwin reads the macOS version: since 10.14 every account may bind
// privileged ports on wildcard addresses, so no helper is needed for them.
func (d *diagnosis) darwin() {
	out, err := d.host.Run(d.ctx, "sw_vers", "-productVersion")
	if err != nil || out.Exit != 0 {
		d.report.problem("macOS version", "sw_vers -productVersion: "+orError(out, err))
		return
	}
	version := strings.TrimSpace(out.Text)
	if !helper.MacOSWildcardBindFree(version) {
		d.report.problem("macOS version", "macOS "+version+" lets only root bind privileged ports", helper.MacOSRemedies()...)
		return
	}
	d.report.ok("macOS version", "macOS "+version+" lets every account bind privileged ports on wildcard addresses")
	d.report.info("specific addresses", "a specific address below port 1024 still needs root", helper.MacOSRemedies()...)
	d.grant("unprivileged-wildcard", false)
}
