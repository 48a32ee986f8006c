package doctor

import (
	"fmt"
	"strings"
)

// helperUnit is the systemd unit of the helper daemon.
const helperUnit = "portgate-helper.service"

// checkSystemdHelper reads the settings of the helper daemon's unit on a
// host that runs systemd. It reports whether the daemon runs and holds the
// right: through AmbientCapabilities=, or through the file capability
// when the unit does not set NoNewPrivileges=yes.
func (d *diagnosis) checkSystemdHelper(fileCapability bool) bool {
	if _, err := d.host.Stat("/run/systemd/system"); err != nil {
		return false
	}
	out, err := d.host.Run(d.ctx, "systemctl", "show", "--property=LoadState,ActiveState,NoNewPrivileges,AmbientCapabilities", helperUnit)
	if err != nil || out.Exit != 0 {
		d.report.info("helper daemon", "systemctl show "+helperUnit+": "+orError(out, err))
		return false
	}

	props := map[string]string{}
	for _, line := range strings.Split(out.Text, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			props[k] = v
		}
	}
	if props["LoadState"] != "loaded" {
		d.report.info("helper daemon", helperUnit+" is not installed, so servers start the helper as their child")
		return false
	}

	ambient := false
	for _, c := range strings.Fields(props["AmbientCapabilities"]) {
		ambient = ambient || c == "cap_net_bind_service"
	}
	active := props["ActiveState"] == "active"

	switch {
	case ambient:
		d.report.ok("helper daemon", fmt.Sprintf("%s grants CAP_NET_BIND_SERVICE with AmbientCapabilities= (%s)", helperUnit, props["ActiveState"]))
	case props["NoNewPrivileges"] == "yes":
		d.report.problem("helper daemon", helperUnit+" sets NoNewPrivileges=yes, so the kernel ignores the helper's file capability",
			"systemctl edit "+helperUnit+", and set NoNewPrivileges=no or AmbientCapabilities=CAP_NET_BIND_SERVICE; then systemctl restart "+helperUnit)
		return false
	case fileCapability:
		d.report.ok("helper daemon", fmt.Sprintf("%s runs the helper with its file capability (%s)", helperUnit, props["ActiveState"]))
	default:
		return false
	}
	if !active {
		d.report.info("helper daemon", helperUnit+" is "+props["ActiveState"], "systemctl enable --now "+helperUnit)
	}
	return active
}
