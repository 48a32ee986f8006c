package helper

import (
	"fmt"
	"strconv"
	"strings"
)

// PortACLRule is one rule of FreeBSD's mac_portacl(4): subjects of IDType
// ("uid" or "gid") ID may bind Port over Protocol ("tcp" or "udp").
type PortACLRule struct {
	IDType   string
	ID       uint32
	Protocol string
	Port     uint16
}

func (r PortACLRule) String() string {
	return fmt.Sprintf("%s:%d:%s:%d", r.IDType, r.ID, r.Protocol, r.Port)
}

// ParsePortACLRules parses the security.mac.portacl.rules sysctl: rules
// separated by commas, each idtype:id:protocol:port. An empty value has
// no rules.
func ParsePortACLRules(s string) ([]PortACLRule, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var rules []PortACLRule
	for _, text := range strings.Split(s, ",") {
		text = strings.TrimSpace(text)
		f := strings.Split(text, ":")
		if len(f) != 4 {
			return nil, fmt.Errorf("mac_portacl rule %q: want idtype:id:protocol:port", text)
		}
		if f[0] != "uid" && f[0] != "gid" {
			return nil, fmt.Errorf("mac_portacl rule %q: idtype %q is not uid or gid", text, f[0])
		}
		id, err := strconv.ParseUint(f[1], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("mac_portacl rule %q: id %q is not a number", text, f[1])
		}
		if f[2] != "tcp" && f[2] != "udp" {
			return nil, fmt.Errorf("mac_portacl rule %q: protocol %q is not tcp or udp", text, f[2])
		}
		port, err := strconv.ParseUint(f[3], 10, 16)
		if err != nil {
			return nil, fmt.Errorf("mac_portacl rule %q: port %q is not a number from 0 to 65535", text, f[3])
		}
		rules = append(rules, PortACLRule{IDType: f[0], ID: uint32(id), Protocol: f[2], Port: uint16(port)})
	}
	return rules, nil
}

// FormatPortACLRules writes rules in the form of the
// security.mac.portacl.rules sysctl.
func FormatPortACLRules(rules []PortACLRule) string {
	texts := make([]string, len(rules))
	for i, r := range rules {
		texts[i] = r.String()
	}
	return strings.Join(texts, ",")
}

// MissingPortACLRules returns the uid rules, for TCP and UDP on each of
// ports, that rules lack. Rules for a gid are not matched: mac_portacl
// would need the account's groups to apply them.
func MissingPortACLRules(rules []PortACLRule, uid uint32, ports []uint16) []PortACLRule {
	have := map[PortACLRule]bool{}
	for _, r := range rules {
		have[r] = true
	}
	var missing []PortACLRule
	for _, port := range ports {
		for _, proto := range []string{"tcp", "udp"} {
			r := PortACLRule{IDType: "uid", ID: uid, Protocol: proto, Port: port}
			if !have[r] {
				missing = append(missing, r)
				have[r] = true
			}
		}
	}
	return missing
}

// BlockedPortACLRules returns the uid rules, for TCP and UDP on each of
// ports, that uid needs because some rule names that protocol and port
// for another uid or gid. mac_portacl lets only the ids it names bind such
// a port, and leaves a port that no rule names to the
// net.inet.ip.portrange.reservedhigh check.
func BlockedPortACLRules(rules []PortACLRule, uid uint32, ports []uint16) []PortACLRule {
	type key struct {
		protocol string
		port     uint16
	}
	named := map[key]bool{}
	for _, r := range rules {
		named[key{r.Protocol, r.Port}] = true
	}
	var blocked []PortACLRule
	for _, r := range MissingPortACLRules(rules, uid, ports) {
		if named[key{r.Protocol, r.Port}] {
			blocked = append(blocked, r)
		}
	}
	return blocked
}

// FreeBSDMechanism decides how privileged ports are bound on FreeBSD from
// the net.inet.ip.portrange.reservedhigh sysctl and the loaded mac_portacl
// rules, where that needs no probe bind. With reservedhigh at 0 every port
// that no rule names is open to every account, and rules decide the rest.
// decided is false when reservedhigh is above 0.
func FreeBSDMechanism(reservedHigh uint32, rules string) (kind, source string, decided bool) {
	if reservedHigh != 0 {
		return "", "", false
	}
	if strings.TrimSpace(rules) == "" {
		return "reservedhigh", "net.inet.ip.portrange.reservedhigh is 0", true
	}
	return "mac_portacl", "mac_portacl rules in security.mac.portacl.rules, with net.inet.ip.portrange.reservedhigh at 0", true
}
