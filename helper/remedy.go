package helper

import (
	"fmt"
	"strconv"
	"strings"
)

// The remedies below are the commands that grant the bind right on each
// system. The helper sends them when it holds no right, and portgate
// doctor prints them.

// SolarisRemedies returns the ways to give account the net_privaddr
// privilege on Solaris and illumos, for the SMF service fmri.
func SolarisRemedies(account, fmri string) []string {
	return []string{
		fmt.Sprintf("the helper lacks net_privaddr: give its SMF method credential the privilege with svccfg -s %s setprop start/privileges = astring: basic,net_privaddr && svcadm refresh %s && svcadm restart %s", fmri, fmri, fmri),
		fmt.Sprintf("or give the account the privilege by default: usermod -K defaultpriv=basic,net_privaddr %s", account),
	}
}

// AIXRemedies returns the commands that make PV_NET_PORT an innate
// privilege of the helper file exe on AIX.
func AIXRemedies(exe string) []string {
	return []string{
		fmt.Sprintf("the helper lacks PV_NET_PORT: run setsecattr -c innateprivs=PV_NET_PORT %s && setkst", exe),
	}
}

// MacOSRemedies returns the ways to reach a port below 1024 on macOS
// releases before 10.14, or on a specific address.
func MacOSRemedies() []string {
	return []string{
		"macOS before 10.14 and specific addresses need root to bind privileged ports: let a launchd job with a Sockets entry bind the port, or forward it with a pf anchor (see packaging/macos)",
	}
}

// FreeBSDRemedies returns the commands that let uid bind ports on FreeBSD
// with mac_portacl, given the rules already loaded (the value of the
// security.mac.portacl.rules sysctl) and the reservedhigh sysctl.
func FreeBSDRemedies(uid uint32, ports []uint16, loaded string) []string {
	if len(ports) == 0 {
		return []string{fmt.Sprintf("uid %d may not bind privileged ports: add a mac_portacl rule uid:%d:tcp:PORT for each port the policy allows; portgate doctor prints the exact commands", uid, uid)}
	}
	rules, _ := ParsePortACLRules(loaded)
	missing := MissingPortACLRules(rules, uid, ports)
	if len(missing) == 0 {
		return []string{"mac_portacl allows the helper's account its ports, but the kernel still rejects the bind: check that the mac_portacl module is loaded (kldstat -m mac_portacl) and that security.mac.portacl.enabled is 1"}
	}
	all := FormatPortACLRules(append(rules, missing...))
	return []string{
		fmt.Sprintf("uid %d has no mac_portacl rule for port %s: run kldload -n mac_portacl && sysctl net.inet.ip.portrange.reservedhigh=0 security.mac.portacl.rules=%s", uid, joinPorts(missing), all),
		fmt.Sprintf("to keep it across reboots: sysrc -f /boot/loader.conf mac_portacl_load=YES, and add net.inet.ip.portrange.reservedhigh=0 and security.mac.portacl.rules=%s to /etc/sysctl.conf", all),
	}
}

func joinPorts(rules []PortACLRule) string {
	ports := make([]string, len(rules))
	for i, r := range rules {
		ports[i] = r.Protocol + "/" + strconv.Itoa(int(r.Port))
	}
	return strings.Join(ports, ", ")
}
