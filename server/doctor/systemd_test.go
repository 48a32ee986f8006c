package doctor

import (
	"io/fs"
	"testing"
)

const systemctlShow = "systemctl show --property=LoadState,ActiveState,NoNewPrivileges,AmbientCapabilities portgate-helper.service"

// systemdHost is a Linux host that runs systemd, where doctor's own check
// of the helper fails because the helper file has no capability.
func systemdHost(t *testing.T, show string) *fakeHost {
	h := linuxHost(t, "getcap-none.txt", "status.txt", "check-nocap.txt", 1)
	h.stats["/run/systemd/system"] = FileInfo{Mode: fs.ModeDir | 0o755}
	h.command(systemctlShow, show, 0)
	return h
}

// An active helper daemon with AmbientCapabilities= grants the right even
// though the helper file carries no capability.
func TestSystemdAmbientCapability(t *testing.T) {
	r := systemdHost(t, "systemctl-ambient.txt").diagnose("linux")
	wantVerdict(t, r, "capability", true)
	wantCheck(t, r, "helper daemon", StatusOK, "AmbientCapabilities=", "active")
}

func TestSystemdHelperNoNewPrivileges(t *testing.T) {
	h := systemdHost(t, "systemctl-nnp.txt")
	h.command("getcap "+helperPath, "getcap-capability.txt", 0)
	r := h.diagnose("linux")
	wantVerdict(t, r, "none", false)
	wantCheck(t, r, "helper daemon", StatusProblem, "sets NoNewPrivileges=yes", "systemctl edit portgate-helper.service")
}

func TestSystemdHelperNotInstalled(t *testing.T) {
	r := systemdHost(t, "systemctl-not-found.txt").diagnose("linux")
	wantVerdict(t, r, "none", false)
	wantCheck(t, r, "helper daemon", StatusInfo, "not installed")
}

func TestSystemdHelperInactive(t *testing.T) {
	h := systemdHost(t, "systemctl-inactive.txt")
	h.command("getcap "+helperPath, "getcap-capability.txt", 0)
	r := h.diagnose("linux")
	wantVerdict(t, r, "none", false)
	wantCheck(t, r, "helper daemon", StatusOK, "file capability (inactive)")
}
