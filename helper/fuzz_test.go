package helper

import (
	"net/netip"
	"testing"

	"github.com/portgate/portgate/protocol"
)

// FuzzParsePolicy compiles arbitrary policy text. A policy that it accepts
// must contain only valid port ranges. Every rule must admit the peers it
// names, by uid or by a supplementary group, on the edges of its port
// ranges, and a peer that no rule names must get nothing.
func FuzzParsePolicy(f *testing.F) {
	seeds := []string{
		PolicyExample,
		"[[allow]]\nusers = [0, \"65534\"]\ngroups = [\"root\"]\nnetworks = [\"tcp\"]\naddresses = [\"127.0.0.1\", \"::1\", \"fe80::1%lo\"]\nports = [\"1-1023\", 8080]\n",
		"[[allow]]\ngroups = [4321]\nnetworks = [\"udp\"]\naddresses = [\"::1\"]\nports = [\"53-54\"]\n",
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
		stranger := unnamedID(p)
		nobody := Peer{UID: stranger, GID: stranger, Groups: []uint32{stranger}}
		for i, r := range p.Rules {
			network := protocol.TCP
			if !r.TCP {
				network = protocol.UDP
			}
			addr := netip.MustParseAddr("127.0.0.1")
			if !r.AnyAddress {
				addr = r.Addresses[0]
			}
			var peers []Peer
			for uid := range r.UIDs {
				peers = append(peers, Peer{UID: uid, GID: stranger})
			}
			for gid := range r.GIDs {
				peers = append(peers, Peer{UID: stranger, GID: stranger, Groups: []uint32{stranger, gid}})
			}
			for _, pr := range r.Ports {
				if pr.Low < 1 || pr.Low > pr.High {
					t.Fatalf("rule %d: accepted port range %d-%d", i+1, pr.Low, pr.High)
				}
				for _, port := range []uint16{pr.Low, pr.High} {
					for _, peer := range peers {
						if n := p.Allow(peer, network, addr, port); n == 0 || n > i+1 {
							t.Fatalf("peer %+v on %s %s port %d: rule %d, expected rule %d or an earlier one", peer, network, addr, port, n, i+1)
						}
					}
					if n := p.Allow(nobody, network, addr, port); n != 0 {
						t.Fatalf("peer %+v that no rule names is allowed port %d by rule %d", nobody, port, n)
					}
				}
			}
		}
	})
}

// unnamedID returns an id that no rule of p names as a uid or a gid.
func unnamedID(p *Policy) uint32 {
	for id := uint32(1 << 31); ; id++ {
		named := false
		for _, r := range p.Rules {
			named = named || r.UIDs[id] || r.GIDs[id]
		}
		if !named {
			return id
		}
	}
}
