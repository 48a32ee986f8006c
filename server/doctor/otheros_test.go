package doctor

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func solarisHost(t *testing.T, svcprop string, svcpropExit int) *fakeHost {
	h := newFakeHost(t, "solaris")
	h.command("svcprop -p start/privileges "+DefaultSMFService, svcprop, svcpropExit)
	return h
}

func TestSolarisRunningHelperHoldsPrivilege(t *testing.T) {
	h := solarisHost(t, "svcprop-privileges.txt", 0)
	h.command("pgrep -x portgate-helper", "pgrep.txt", 0)
	h.command("ppriv 2417", "ppriv-net_privaddr.txt", 0)
	r := h.diagnose("solaris")
	wantVerdict(t, r, "privilege", true)
	wantCheck(t, r, "SMF method credential", StatusOK, "basic,net_privaddr")
	wantCheck(t, r, "running helper", StatusOK, "pid 2417")
}

func TestSolarisCredentialWithoutPrivilege(t *testing.T) {
	h := solarisHost(t, "svcprop-basic.txt", 0)
	h.command("pgrep -x portgate-helper", "pgrep.txt", 0)
	h.command("ppriv 2417", "ppriv-basic.txt", 0)
	r := h.diagnose("solaris")
	wantVerdict(t, r, "none", false)
	wantCheck(t, r, "SMF method credential", StatusProblem, `privileges "basic"`,
		"svccfg -s "+DefaultSMFService+" setprop start/privileges = astring: basic,net_privaddr")
	wantCheck(t, r, "running helper", StatusProblem, "without net_privaddr")
	wantCheck(t, r, "fix", StatusInfo, "usermod -K defaultpriv=basic,net_privaddr portgate")
}

// With the manifest imported but the helper stopped, the credential alone
// shows the right will be there.
func TestSolarisCredentialHelperStopped(t *testing.T) {
	h := solarisHost(t, "svcprop-privileges.txt", 0)
	r := h.diagnose("illumos")
	wantVerdict(t, r, "privilege", true)
	wantCheck(t, r, "helper daemon", StatusInfo, "svcadm enable "+DefaultSMFService)
}

func TestSolarisAccountPrivilege(t *testing.T) {
	h := solarisHost(t, "svcprop-missing.txt", 1)
	h.command(helperPath+" check --port 80", "check-privilege.txt", 0)
	r := h.diagnose("solaris")
	wantVerdict(t, r, "privilege", true)
	wantCheck(t, r, "SMF method credential", StatusInfo, "Couldn't find property group", "svccfg import")
}

func TestHasPrivilege(t *testing.T) {
	cases := []struct {
		set  string
		want bool
	}{
		{"basic,net_privaddr", true},
		{"basic", false},
		{"all", true},
		{"{net_privaddr}:80/tcp,{net_privaddr}:443/tcp,basic", true},
		{"{file_dac_read}:/etc/portgate/*,basic", false},
		{"", false},
	}
	for _, tc := range cases {
		if got := hasPrivilege(tc.set, "net_privaddr"); got != tc.want {
			t.Errorf("hasPrivilege(%q): got %t, want %t", tc.set, got, tc.want)
		}
	}
}

func TestParsePpriv(t *testing.T) {
	h := newFakeHost(t, "solaris")
	sets := parsePpriv(h.read("ppriv-net_privaddr.txt"))
	for _, set := range []string{"E", "I", "P", "L"} {
		if sets[set] != "basic,net_privaddr" {
			t.Errorf("set %s: got %q, want basic,net_privaddr", set, sets[set])
		}
	}
}

func aixHost(t *testing.T) *fakeHost {
	h := newFakeHost(t, "aix")
	h.command("lsattr -El sys0 -a enhanced_RBAC", "lsattr-enhanced.txt", 0)
	h.command("lssecattr -c -a innateprivs "+helperPath, "lssecattr.txt", 0)
	h.command("lskst -t cmd "+helperPath, "lskst.txt", 0)
	return h
}

func TestAIXInnatePrivilege(t *testing.T) {
	h := aixHost(t)
	h.command(helperPath+" check --port 80", "check-rbac.txt", 0)
	r := h.diagnose("aix")
	wantVerdict(t, r, "rbac", true)
	wantCheck(t, r, "enhanced RBAC", StatusOK)
	wantCheck(t, r, "privileged command database", StatusOK, "innateprivs=PV_NET_PORT")
	wantCheck(t, r, "kernel security tables", StatusOK, "innateprivs=PV_NET_PORT")
}

func TestAIXNotInDatabase(t *testing.T) {
	h := aixHost(t)
	h.command("lssecattr -c -a innateprivs "+helperPath, "lssecattr-missing.txt", 1)
	h.command("lskst -t cmd "+helperPath, "lssecattr-missing.txt", 1)
	h.command(helperPath+" check --port 80", "check-none.txt", 1)
	r := h.diagnose("aix")
	wantVerdict(t, r, "none", false)
	wantCheck(t, r, "privileged command database", StatusProblem, "3004-733", "setsecattr -c innateprivs=PV_NET_PORT "+helperPath+" && setkst")
	wantCheck(t, r, "kernel security tables", StatusProblem, "setkst")
}

// A database entry that setkst has not loaded into the kernel yet.
func TestAIXKernelTablesStale(t *testing.T) {
	h := aixHost(t)
	h.command("lskst -t cmd "+helperPath, "lssecattr-missing.txt", 1)
	h.command(helperPath+" check --port 80", "check-none.txt", 1)
	r := h.diagnose("aix")
	wantVerdict(t, r, "none", false)
	wantCheck(t, r, "privileged command database", StatusOK)
	wantCheck(t, r, "kernel security tables", StatusProblem, "setkst")
}

func TestParseSecAttr(t *testing.T) {
	attrs := parseSecAttr("/usr/libexec/portgate/portgate-helper:\n\taccessauths=ALLOW_ALL\n\tinnateprivs=PV_NET_PORT,PV_NET_CNTL\n")
	if got := attrs["innateprivs"]; got != "PV_NET_PORT,PV_NET_CNTL" {
		t.Errorf("innateprivs: got %q, want PV_NET_PORT,PV_NET_CNTL", got)
	}
	if got := attrs["accessauths"]; got != "ALLOW_ALL" {
		t.Errorf("accessauths: got %q, want ALLOW_ALL", got)
	}
}

func freebsdHost(t *testing.T, reservedHigh, rules string) *fakeHost {
	h := newFakeHost(t, "freebsd")
	h.command("sysctl -n net.inet.ip.portrange.reservedhigh", reservedHigh, 0)
	h.command("kldstat -q -m mac_portacl", "kldstat.txt", 0)
	h.command("sysctl -n security.mac.portacl.rules", rules, 0)
	return h
}

func TestFreeBSDPortACLRules(t *testing.T) {
	h := freebsdHost(t, "reservedhigh-0.txt", "portacl-rules.txt")
	r := h.diagnose("freebsd")
	wantVerdict(t, r, "mac_portacl", true)
	wantCheck(t, r, "mac_portacl rules", StatusOK, "uid 999 may bind 80, 443")
	if len(h.ranAs) != 0 {
		t.Errorf("helper check ran as %q, want not at all", h.ranAs)
	}
}

// A rule that reserves tcp/80 for uid 80 blocks the account.
func TestFreeBSDPortACLRulesBlock(t *testing.T) {
	h := freebsdHost(t, "reservedhigh-0.txt", "portacl-rules-other.txt")
	h.command(helperPath+" check --port 80", "check-none.txt", 1)
	r := h.diagnose("freebsd")
	wantVerdict(t, r, "none", false)
	wantCheck(t, r, "mac_portacl rules", StatusProblem,
		"lacks uid:999:tcp:80",
		"security.mac.portacl.rules=uid:80:tcp:80,uid:999:tcp:80,uid:999:udp:80,uid:999:tcp:443,uid:999:udp:443",
		"mac_portacl_load=YES")
}

// With reservedhigh at its default, mac_portacl rules do not help.
func TestFreeBSDReservedHighDefault(t *testing.T) {
	h := freebsdHost(t, "reservedhigh.txt", "portacl-rules.txt")
	h.command(helperPath+" check --port 80", "check-none.txt", 1)
	r := h.diagnose("freebsd")
	wantVerdict(t, r, "none", false)
	wantCheck(t, r, "reservedhigh", StatusProblem, "is 1023", "sysctl net.inet.ip.portrange.reservedhigh=0")
}

// Without the module and with reservedhigh at 0, every account may bind
// every port: the server binds them itself.
func TestFreeBSDReservedHighZero(t *testing.T) {
	h := freebsdHost(t, "reservedhigh-0.txt", "portacl-rules.txt")
	delete(h.commands, "kldstat -q -m mac_portacl")
	r := h.diagnose("freebsd")
	wantVerdict(t, r, "reservedhigh", true)
	wantCheck(t, r, "mac_portacl", StatusInfo, "kldload mac_portacl")
	if len(h.ranAs) != 0 {
		t.Errorf("helper check ran as %q, want not at all", h.ranAs)
	}
}

// Policy ports that no rule names are open to every account: doctor says
// how to reserve them.
func TestFreeBSDPortsWithoutRules(t *testing.T) {
	h := freebsdHost(t, "reservedhigh-0.txt", "portacl-rules-other.txt")
	h.files[policyPath] = "../policy-443.toml"
	r := h.diagnose("freebsd")
	wantVerdict(t, r, "mac_portacl", true)
	wantCheck(t, r, "mac_portacl rules", StatusInfo, "no rule names uid:999:tcp:443,uid:999:udp:443")
}

func TestDarwinWildcard(t *testing.T) {
	h := newFakeHost(t, "darwin")
	h.command("sw_vers -productVersion", "sw_vers.txt", 0)
	r := h.diagnose("darwin")
	wantVerdict(t, r, "unprivileged-wildcard", true)
	wantCheck(t, r, "macOS version", StatusOK, "macOS 14.2.1")
	wantCheck(t, r, "specific addresses", StatusInfo, "launchd", "pf anchor")
}

func TestDarwinBefore1014(t *testing.T) {
	h := newFakeHost(t, "darwin")
	h.command("sw_vers -productVersion", "sw_vers-high-sierra.txt", 0)
	r := h.diagnose("darwin")
	wantVerdict(t, r, "none", false)
	wantCheck(t, r, "macOS version", StatusProblem, "10.13.6 lets only root", "launchd")
}

func TestOtherSystemForwarding(t *testing.T) {
	r := newFakeHost(t, "openbsd").diagnose("openbsd")
	wantVerdict(t, r, "none", false)
	wantCheck(t, r, "mechanism", StatusProblem, "forward the privileged port")
}

func TestWriteText(t *testing.T) {
	h := linuxHost(t, "getcap-none.txt", "status.txt", "check-nocap.txt", 1)
	var b bytes.Buffer
	if err := WriteText(&b, h.diagnose("linux")); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"os: linux\n",
		"[problem] file capability: ",
		"          fix: setcap cap_net_bind_service,cap_setpcap=p " + helperPath + "\n",
		"mechanism: none\n",
		"result: no port below 1024 can be granted to portgate",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	h := linuxHost(t, "getcap-capability.txt", "status.txt", "check-capability.txt", 0)
	var b bytes.Buffer
	if err := WriteJSON(&b, h.diagnose("linux")); err != nil {
		t.Fatal(err)
	}
	var got Report
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("decode %s: %v", b.String(), err)
	}
	if !got.CanGrant || got.Mechanism != "capability" || got.OS != "linux" {
		t.Errorf("got can_grant %t, mechanism %q, os %q, want true, capability, linux", got.CanGrant, got.Mechanism, got.OS)
	}
	if len(got.Checks) == 0 || got.Checks[0].Status != StatusOK {
		t.Errorf("got checks %+v, want the first ok", got.Checks)
	}
}
