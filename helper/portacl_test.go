package helper

import (
	"strings"
	"testing"
)

func TestParsePortACLRules(t *testing.T) {
	rules, err := ParsePortACLRules("uid:80:tcp:80,gid:0:udp:53, uid:999:tcp:443\n")
	if err != nil {
		t.Fatalf("ParsePortACLRules: %v", err)
	}
	want := []PortACLRule{
		{"uid", 80, "tcp", 80},
		{"gid", 0, "udp", 53},
		{"uid", 999, "tcp", 443},
	}
	if len(rules) != len(want) {
		t.Fatalf("got %d rules, want %d: %+v", len(rules), len(want), rules)
	}
	for i := range want {
		if rules[i] != want[i] {
			t.Errorf("rule %d: got %+v, want %+v", i, rules[i], want[i])
		}
	}
}

func TestParsePortACLRulesEmpty(t *testing.T) {
	rules, err := ParsePortACLRules(" \n")
	if err != nil || len(rules) != 0 {
		t.Errorf("got %+v, %v, want no rules and no error", rules, err)
	}
}

func TestParsePortACLRulesRejects(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"three fields", "uid:80:tcp", "want idtype:id:protocol:port"},
		{"bad idtype", "user:80:tcp:80", `idtype "user"`},
		{"bad id", "uid:www:tcp:80", `id "www"`},
		{"bad protocol", "uid:80:sctp:80", `protocol "sctp"`},
		{"port too large", "uid:80:tcp:65536", `port "65536"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePortACLRules(tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestFormatPortACLRulesRoundTrip(t *testing.T) {
	const text = "uid:999:tcp:80,gid:0:udp:53"
	rules, err := ParsePortACLRules(text)
	if err != nil {
		t.Fatal(err)
	}
	if got := FormatPortACLRules(rules); got != text {
		t.Errorf("got %q, want %q", got, text)
	}
}

func TestMissingPortACLRules(t *testing.T) {
	have := []PortACLRule{{"uid", 999, "tcp", 80}, {"gid", 999, "udp", 80}, {"uid", 1000, "tcp", 443}}
	got := FormatPortACLRules(MissingPortACLRules(have, 999, []uint16{80, 443, 80}))
	if want := "uid:999:udp:80,uid:999:tcp:443,uid:999:udp:443"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFreeBSDRemedies(t *testing.T) {
	got := FreeBSDRemedies(999, []uint16{80}, "uid:999:tcp:80")
	if len(got) != 2 {
		t.Fatalf("got %d remedies, want 2: %q", len(got), got)
	}
	if want := "sysctl net.inet.ip.portrange.reservedhigh=0 security.mac.portacl.rules=uid:999:tcp:80,uid:999:udp:80"; !strings.Contains(got[0], want) {
		t.Errorf("remedy: got %q, want it to contain %q", got[0], want)
	}
	if want := "mac_portacl_load=YES"; !strings.Contains(got[1], want) {
		t.Errorf("persistent remedy: got %q, want it to contain %q", got[1], want)
	}
}

func TestFreeBSDRemediesAllRulesPresent(t *testing.T) {
	got := FreeBSDRemedies(999, []uint16{80}, "uid:999:tcp:80,uid:999:udp:80")
	if len(got) != 1 || !strings.Contains(got[0], "kldstat -m mac_portacl") {
		t.Errorf("got %q, want one remedy naming kldstat -m mac_portacl", got)
	}
}

func TestFreeBSDRemediesWithoutPorts(t *testing.T) {
	got := FreeBSDRemedies(999, nil, "")
	if len(got) != 1 || !strings.Contains(got[0], "uid:999:tcp:PORT") {
		t.Errorf("got %q, want one remedy naming uid:999:tcp:PORT", got)
	}
}

func TestBlockedPortACLRules(t *testing.T) {
	// tcp/80 is reserved for uid 80, udp/80 for uid 999, and no rule names
	// port 443, which reservedhigh then decides.
	have := []PortACLRule{{"uid", 80, "tcp", 80}, {"uid", 999, "udp", 80}}
	got := FormatPortACLRules(BlockedPortACLRules(have, 999, []uint16{80, 443}))
	if want := "uid:999:tcp:80"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFreeBSDMechanism(t *testing.T) {
	cases := []struct {
		name        string
		high        uint32
		rules       string
		kind        string
		wantDecided bool
	}{
		{"default reservedhigh", 1023, "uid:999:tcp:80", "", false},
		{"reservedhigh 0 without rules", 0, "", "reservedhigh", true},
		{"reservedhigh 0 with rules", 0, "uid:999:tcp:80", "mac_portacl", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kind, source, decided := FreeBSDMechanism(tc.high, tc.rules)
			if kind != tc.kind || decided != tc.wantDecided {
				t.Errorf("got %q, %t, want %q, %t", kind, decided, tc.kind, tc.wantDecided)
			}
			if decided && source == "" {
				t.Error("source is empty")
			}
		})
	}
}
