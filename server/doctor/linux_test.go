package doctor

import (
	"io/fs"
	"strings"
	"testing"
)

// linuxHost is a Linux host as the Debian package leaves it, with the
// helper's state given by getcap output, /proc/self/status and the
// output of portgate-helper check.
func linuxHost(t *testing.T, getcap, status, check string, checkExit int) *fakeHost {
	h := newFakeHost(t, "linux")
	h.command("getcap "+helperPath, getcap, 0)
	h.command(helperPath+" check --port 80", check, checkExit)
	h.files["/proc/self/status"] = status
	h.files["/proc/self/mountinfo"] = "mountinfo.txt"
	h.files["/proc/self/uid_map"] = "uid_map.txt"
	h.files["/proc/sys/net/ipv4/ip_unprivileged_port_start"] = "port-start.txt"
	return h
}

func TestLinuxCapabilityPresent(t *testing.T) {
	h := linuxHost(t, "getcap-capability.txt", "status.txt", "check-capability.txt", 0)
	r := h.diagnose("linux")
	wantVerdict(t, r, "capability", true)
	if p := r.Problems(); len(p) != 0 {
		t.Errorf("got problems %+v, want none", p)
	}
	wantCheck(t, r, "file capability", StatusOK, "cap_net_bind_service")
	wantCheck(t, r, "helper check", StatusOK, "mechanism capability")
	if len(h.ranAs) != 1 || h.ranAs[0] != "portgate" {
		t.Errorf("helper check ran as %q, want once as portgate", h.ranAs)
	}
}

func TestLinuxCapabilityRemoved(t *testing.T) {
	h := linuxHost(t, "getcap-none.txt", "status.txt", "check-nocap.txt", 1)
	r := h.diagnose("linux")
	wantVerdict(t, r, "none", false)
	wantCheck(t, r, "file capability", StatusProblem, "carries no cap_net_bind_service",
		"setcap cap_net_bind_service,cap_setpcap=p "+helperPath)
	wantCheck(t, r, "helper check", StatusProblem, "exit 1", "run setcap cap_net_bind_service,cap_setpcap=p "+helperPath)
}

func TestLinuxNoNewPrivs(t *testing.T) {
	h := linuxHost(t, "getcap-capability.txt", "status-nnp.txt", "check-nnp.txt", 1)
	r := h.diagnose("linux")
	wantVerdict(t, r, "none", false)
	wantCheck(t, r, "file capability", StatusOK)
	wantCheck(t, r, "no_new_privs", StatusProblem, "NoNewPrivileges=", "AmbientCapabilities=CAP_NET_BIND_SERVICE")
	wantCheck(t, r, "helper check", StatusProblem, "no_new_privs was set before the helper started")
}

func TestLinuxPortStartLowered(t *testing.T) {
	h := linuxHost(t, "getcap-none.txt", "status.txt", "check-portstart.txt", 0)
	h.files["/proc/sys/net/ipv4/ip_unprivileged_port_start"] = "port-start-80.txt"
	r := h.diagnose("linux")
	wantVerdict(t, r, "unprivileged-port-start", true)
	wantCheck(t, r, "ip_unprivileged_port_start", StatusOK, "is 80", "without the helper")
	wantCheck(t, r, "file capability", StatusProblem)
}

// A lowered ip_unprivileged_port_start needs no helper, so a missing
// policy does not stop the grant.
func TestLinuxPortStartLoweredWithoutPolicy(t *testing.T) {
	h := linuxHost(t, "getcap-none.txt", "status.txt", "check-nocap.txt", 1)
	h.files["/proc/sys/net/ipv4/ip_unprivileged_port_start"] = "port-start-80.txt"
	delete(h.stats, policyPath)
	r := h.diagnose("linux")
	wantVerdict(t, r, "unprivileged-port-start", true)
	wantCheck(t, r, "policy", StatusProblem, "does not exist", "[[allow]]")
}

func TestLinuxNosuidMount(t *testing.T) {
	h := linuxHost(t, "getcap-capability.txt", "status.txt", "check-nocap.txt", 1)
	h.files["/proc/self/mountinfo"] = "mountinfo-nosuid.txt"
	r := h.diagnose("linux")
	wantVerdict(t, r, "none", false)
	wantCheck(t, r, "nosuid", StatusProblem, "is on /usr, mounted nosuid", "mount -o remount,suid /usr")
}

func TestLinuxUserNamespace(t *testing.T) {
	h := linuxHost(t, "getcap-capability.txt", "status.txt", "check-nocap.txt", 1)
	h.files["/proc/self/uid_map"] = "uid_map-userns.txt"
	r := h.diagnose("linux")
	wantVerdict(t, r, "none", false)
	wantCheck(t, r, "user namespace", StatusProblem, "user namespace")
}

func TestLinuxBoundingSetWithoutBind(t *testing.T) {
	h := linuxHost(t, "getcap-capability.txt", "status-nobind.txt", "check-nocap.txt", 1)
	r := h.diagnose("linux")
	wantCheck(t, r, "bounding set", StatusProblem, "--cap-add NET_BIND_SERVICE")
}

// Without getcap, doctor reads the security.capability attribute itself.
func TestLinuxCapabilityFromXattr(t *testing.T) {
	h := linuxHost(t, "getcap-none.txt", "status.txt", "check-capability.txt", 0)
	delete(h.commands, "getcap "+helperPath)
	// Revision 2, permitted: CAP_NET_BIND_SERVICE and CAP_SETPCAP.
	h.xattrs[helperPath+" security.capability"] = []byte{0, 0, 0, 2, 0x00, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	r := h.diagnose("linux")
	wantCheck(t, r, "file capability", StatusOK, "security.capability attribute")
	wantVerdict(t, r, "capability", true)
}

func TestLinuxCapabilityXattrMissing(t *testing.T) {
	h := linuxHost(t, "getcap-none.txt", "status.txt", "check-nocap.txt", 1)
	delete(h.commands, "getcap "+helperPath)
	r := h.diagnose("linux")
	wantCheck(t, r, "file capability", StatusProblem, "no security.capability attribute")
}

// A helper that holds the right grants nothing when the policy allows the
// account no privileged port.
func TestLinuxPolicyForOtherAccount(t *testing.T) {
	h := linuxHost(t, "getcap-capability.txt", "status.txt", "check-capability.txt", 0)
	h.files[policyPath] = "../policy-other-account.toml"
	h.command(helperPath+" check", "check-policy-skipped.txt", 1)
	r := h.diagnose("linux")
	wantVerdict(t, r, "capability", false)
	wantCheck(t, r, "policy", StatusProblem, "allows portgate (uid 999) no port below 1024", `users = ["portgate"]`)
}

// A rule for a group matches an account that is in that group besides its
// primary one, as the helper matches a peer's supplementary groups.
func TestLinuxPolicyForSupplementaryGroup(t *testing.T) {
	h := linuxHost(t, "getcap-capability.txt", "status.txt", "check-capability.txt", 0)
	h.files[policyPath] = "../policy-supplementary-group.toml"
	r := h.diagnose("linux")
	wantCheck(t, r, "policy", StatusProblem, "allows portgate (uid 999) no port below 1024")

	h.accounts["portgate"].Groups = []uint32{995, 4321}
	r = h.diagnose("linux")
	wantCheck(t, r, "policy", StatusOK, "allows portgate privileged ports 80")
}

func TestLinuxPolicyWritableByGroup(t *testing.T) {
	h := linuxHost(t, "getcap-capability.txt", "status.txt", "check-capability.txt", 0)
	h.stats[policyPath] = FileInfo{Mode: 0o664, GID: 995}
	h.command(helperPath+" check", "check-policy-skipped.txt", 1)
	r := h.diagnose("linux")
	wantVerdict(t, r, "capability", false)
	wantCheck(t, r, "policy", StatusProblem, "mode 0664", "chmod go-w "+policyPath)
}

func TestLinuxPolicyDirectoryNotRoot(t *testing.T) {
	h := linuxHost(t, "getcap-capability.txt", "status.txt", "check-capability.txt", 0)
	h.stats["/etc/portgate"] = FileInfo{Mode: fs.ModeDir | 0o755, UID: 999}
	r := h.diagnose("linux")
	wantCheck(t, r, "policy", StatusProblem, "/etc/portgate is owned by uid 999", "chown root:0 /etc/portgate")
}

func TestLinuxPolicyPorts(t *testing.T) {
	h := linuxHost(t, "getcap-capability.txt", "status.txt", "check-capability.txt", 0)
	r := h.diagnose("linux")
	wantCheck(t, r, "policy", StatusOK, "privileged ports 80, 443")
}

func TestLinuxHelperFileFaults(t *testing.T) {
	cases := []struct {
		name string
		st   FileInfo
		want string
	}{
		{"setuid", FileInfo{Mode: fs.ModeSetuid | 0o755}, "setuid or setgid"},
		{"not root", FileInfo{Mode: 0o750, UID: 999, GID: 995}, "owned by uid 999"},
		{"group writable", FileInfo{Mode: 0o770, GID: 995}, "writable by group or others"},
		{"other group", FileInfo{Mode: 0o750, GID: 0}, "not executable by portgate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := linuxHost(t, "getcap-capability.txt", "status.txt", "check-capability.txt", 0)
			h.stats[helperPath] = tc.st
			r := h.diagnose("linux")
			wantCheck(t, r, "helper file", StatusProblem, tc.want, "chown root:portgate "+helperPath+" && chmod 0750 "+helperPath)
		})
	}
}

func TestLinuxHelperMissing(t *testing.T) {
	h := linuxHost(t, "getcap-none.txt", "status.txt", "check-nocap.txt", 1)
	delete(h.stats, helperPath)
	r := h.diagnose("linux")
	wantCheck(t, r, "helper file", StatusProblem, "install portgate-helper at "+helperPath)
}

func TestLinuxAccountMissing(t *testing.T) {
	h := linuxHost(t, "getcap-capability.txt", "status.txt", "check-capability.txt", 0)
	delete(h.accounts, "portgate")
	r := h.diagnose("linux")
	wantVerdict(t, r, "none", false)
	wantCheck(t, r, "service account", StatusProblem, "useradd --system --user-group")
	if len(h.ranAs) != 0 {
		t.Errorf("helper check ran as %q, want not at all without the account", h.ranAs)
	}
}

// As a user other than root and the account, the check runs as that user
// and the report notes it.
func TestLinuxNotRoot(t *testing.T) {
	h := linuxHost(t, "getcap-capability.txt", "status.txt", "check-capability.txt", 0)
	h.euid = 1000
	r := h.diagnose("linux")
	found := false
	for _, c := range r.Checks {
		if c.Name == "helper check" && c.Status == StatusInfo {
			found = true
		}
	}
	if !found {
		t.Errorf("got checks %+v, want an info check saying the check ran as uid 1000", r.Checks)
	}
	named := false
	for _, c := range r.Checks {
		if c.Name == "helper check" && c.Status == StatusOK && strings.Contains(c.Detail, "portgate-helper check as uid 1000 (not portgate: run doctor as root)") {
			named = true
		}
	}
	if !named {
		t.Errorf("got checks %+v, want the check's result to name uid 1000, not the account", r.Checks)
	}
}

func TestParseGetcap(t *testing.T) {
	cases := []struct {
		name, text string
		want       bool
	}{
		{"libcap 2.66", helperPath + " cap_setpcap,cap_net_bind_service=p\n", true},
		{"older libcap", helperPath + " = cap_net_bind_service+ep\n", true},
		{"effective only", helperPath + " cap_net_bind_service=e\n", false},
		{"other capability", helperPath + " cap_net_raw=ep\n", false},
		{"all", helperPath + " =ep\n", false},
		{"every capability", helperPath + " all=ep\n", true},
		{"two clauses", helperPath + " cap_net_raw=ep cap_net_bind_service+p\n", true},
		{"none", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseGetcap(tc.text, helperPath)
			if err != nil {
				t.Fatalf("parseGetcap(%q): %v", tc.text, err)
			}
			if got != tc.want {
				t.Errorf("parseGetcap(%q): got %t, want %t", tc.text, got, tc.want)
			}
		})
	}
}

func TestMountOf(t *testing.T) {
	const info = "27 1 254:0 / / rw - ext4 /dev/vda1 rw\n" +
		"28 27 254:1 / /usr rw,nosuid - ext4 /dev/vda2 rw\n" +
		"29 27 254:2 / /usr/lib rw - ext4 /dev/vda3 rw\n" +
		"30 27 254:3 / /opt/my\\040apps rw,nosuid - ext4 /dev/vda4 rw\n" +
		"31 28 254:4 / /usr rw - ext4 /dev/vda5 rw\n"
	cases := []struct{ path, mount, options string }{
		{"/usr/libexec/portgate/portgate-helper", "/usr", "rw"},
		{"/usr/lib/portgate/portgate-helper", "/usr/lib", "rw"},
		{"/usrx/portgate-helper", "/", "rw"},
		{"/opt/my apps/portgate-helper", "/opt/my apps", "rw,nosuid"},
	}
	for _, tc := range cases {
		mount, options := mountOf(info, tc.path)
		if mount != tc.mount || options != tc.options {
			t.Errorf("mountOf(%q): got %q %q, want %q %q", tc.path, mount, options, tc.mount, tc.options)
		}
	}
}
