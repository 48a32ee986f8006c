package helper

import (
	"net/netip"
	"testing"

	"github.com/portgate/portgate/protocol"
)

// FuzzParsePolicy compiles arbitrary policy text. A policy it accepts must
// contain only valid port ranges, and must never allow port 0, which would
// let the kernel pick any port.
func FuzzParsePolicy(f *testing.F) {
	seeds := []string{
		PolicyExample,
		"[[allow]]\nusers = [0, \"65534\"]\ngroups = [\"root\"]\nnetworks = [\"tcp\"]\naddresses = [\"127.0.0.1\", \"::1\", \"fe80::1%lo\"]\nports = [\"1-1023\", 8080]\n",
		"[limits]\nrequests_per_second = 100.0\nburst = 20\nmax_sockets_per_peer = 64\nidle_timeout = \"30s\"\n[daemon]\nsocket = \"/run/portgate-helper/helper.sock\"\nsocket_mode = \"0660\"\nuser = \"nobody\"\n",
		"[[allow]]\nusers = [\"root\"]\naddresses = [\"*\"]\nports = [\"0-70000\"]\n",
		"[[allow]]\nusers = []\n",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p, err := ParsePolicy(text)
		if err != nil {
			return
		}
		for i, r := range p.Rules {
			for _, pr := range r.Ports {
				if pr.Low < 1 || pr.Low > pr.High {
					t.Fatalf("rule %d: accepted port range %d-%d", i+1, pr.Low, pr.High)
				}
			}
			for uid := range r.UIDs {
				peer := Peer{UID: uid, GID: uid}
				for _, addr := range []netip.Addr{netip.IPv4Unspecified(), netip.MustParseAddr("127.0.0.1")} {
					if n := p.Allow(peer, protocol.TCP, addr, 0); n != 0 {
						t.Fatalf("rule %d allows port 0 on %s to uid %d", n, addr, uid)
					}
				}
			}
		}
	})
}
