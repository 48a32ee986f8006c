package helper

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portgate/portgate/protocol"
)

func TestParsePolicyValid(t *testing.T) {
	text := `
[[allow]]
users = ["1000", "root"]
groups = ["2000"]
networks = ["tcp"]
addresses = ["127.0.0.1", "::1", "fe80::1%eth0"]
ports = [80, "8000-8099", " 9000 - 9001 ", "443"]

[[allow]]
groups = ["3000"]
addresses = ["*"]
ports = [53]
`
	p, err := ParsePolicy(text)
	if err != nil {
		t.Fatalf("ParsePolicy: %v", err)
	}
	if len(p.Rules) != 2 {
		t.Fatalf("rules: got %d, want 2", len(p.Rules))
	}
	if p.Path != "" {
		t.Errorf("Path: got %q, want empty for parsed text", p.Path)
	}

	r := p.Rules[0]
	if want := map[uint32]bool{1000: true, 0: true}; !reflect.DeepEqual(r.UIDs, want) {
		t.Errorf("rule 1 UIDs: got %v, want %v", r.UIDs, want)
	}
	if want := map[uint32]bool{2000: true}; !reflect.DeepEqual(r.GIDs, want) {
		t.Errorf("rule 1 GIDs: got %v, want %v", r.GIDs, want)
	}
	if !r.TCP {
		t.Errorf("rule 1 TCP: got false, want true")
	}
	if r.UDP {
		t.Errorf("rule 1 UDP: got true, want false")
	}
	if r.AnyAddress {
		t.Errorf("rule 1 AnyAddress: got true, want false")
	}
	wantAddrs := []netip.Addr{
		netip.MustParseAddr("127.0.0.1"),
		netip.MustParseAddr("::1"),
		netip.MustParseAddr("fe80::1%eth0"),
	}
	if !reflect.DeepEqual(r.Addresses, wantAddrs) {
		t.Errorf("rule 1 Addresses: got %v, want %v", r.Addresses, wantAddrs)
	}
	wantPorts := []PortRange{{80, 80}, {8000, 8099}, {9000, 9001}, {443, 443}}
	if !reflect.DeepEqual(r.Ports, wantPorts) {
		t.Errorf("rule 1 Ports: got %v, want %v", r.Ports, wantPorts)
	}

	r = p.Rules[1]
	if len(r.UIDs) != 0 {
		t.Errorf("rule 2 UIDs: got %v, want none", r.UIDs)
	}
	if want := map[uint32]bool{3000: true}; !reflect.DeepEqual(r.GIDs, want) {
		t.Errorf("rule 2 GIDs: got %v, want %v", r.GIDs, want)
	}
	if !r.TCP || !r.UDP {
		t.Errorf("rule 2 networks: got TCP %t UDP %t, want both when networks is omitted", r.TCP, r.UDP)
	}
	if !r.AnyAddress {
		t.Errorf("rule 2 AnyAddress: got false, want true")
	}
	if len(r.Addresses) != 0 {
		t.Errorf("rule 2 Addresses: got %v, want none", r.Addresses)
	}
	if want := []PortRange{{53, 53}}; !reflect.DeepEqual(r.Ports, want) {
		t.Errorf("rule 2 Ports: got %v, want %v", r.Ports, want)
	}
}

func TestParsePolicyPortEdges(t *testing.T) {
	cases := []struct {
		name  string
		ports string
		want  PortRange
	}{
		{"lowest int", `[1]`, PortRange{1, 1}},
		{"highest int", `[65535]`, PortRange{65535, 65535}},
		{"full range", `["1-65535"]`, PortRange{1, 65535}},
		{"one-port range", `["80-80"]`, PortRange{80, 80}},
		{"port as string", `["8080"]`, PortRange{8080, 8080}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePolicy("[[allow]]\nusers = [\"1000\"]\naddresses = [\"*\"]\nports = " + tc.ports + "\n")
			if err != nil {
				t.Fatalf("ParsePolicy: %v", err)
			}
			if got := p.Rules[0].Ports; len(got) != 1 || got[0] != tc.want {
				t.Errorf("Ports: got %v, want [%v]", got, tc.want)
			}
		})
	}
}

func TestParsePolicyEmptyGrantsNothing(t *testing.T) {
	p, err := ParsePolicy("# no rules yet\n")
	if err != nil {
		t.Fatalf("ParsePolicy: %v", err)
	}
	if len(p.Rules) != 0 {
		t.Errorf("rules: got %d, want 0", len(p.Rules))
	}
}

func TestParsePolicyRejects(t *testing.T) {
	cases := []struct {
		name string
		text string
		want string // substring of the error
	}{
		{"unknown rule key",
			"[[allow]]\nuser = [\"1000\"]\naddresses = [\"*\"]\nports = [80]\n", `unknown key "allow.user"`},
		{"unknown top-level key",
			"listen = 80\n", `unknown key "listen"`},
		{"no users or groups",
			"[[allow]]\naddresses = [\"*\"]\nports = [80]\n", "rule 1 names no users or groups"},
		{"empty users and groups",
			"[[allow]]\nusers = []\ngroups = []\naddresses = [\"*\"]\nports = [80]\n", "rule 1 names no users or groups"},
		{"no addresses",
			"[[allow]]\nusers = [\"1000\"]\nports = [80]\n", "rule 1: no addresses"},
		{"empty addresses",
			"[[allow]]\nusers = [\"1000\"]\naddresses = []\nports = [80]\n", "rule 1: no addresses"},
		{"no ports",
			"[[allow]]\nusers = [\"1000\"]\naddresses = [\"*\"]\n", "rule 1: no ports"},
		{"port 0",
			"[[allow]]\nusers = [\"1000\"]\naddresses = [\"*\"]\nports = [0]\n", "port range 0-0 is outside 1-65535"},
		{"port 65536",
			"[[allow]]\nusers = [\"1000\"]\naddresses = [\"*\"]\nports = [65536]\n", "port range 65536-65536 is outside 1-65535"},
		{"range ending at 65536",
			"[[allow]]\nusers = [\"1000\"]\naddresses = [\"*\"]\nports = [\"65000-65536\"]\n", "port range 65000-65536 is outside"},
		{"range starting at 0",
			"[[allow]]\nusers = [\"1000\"]\naddresses = [\"*\"]\nports = [\"0-80\"]\n", "port range 0-80 is outside"},
		{"negative port",
			"[[allow]]\nusers = [\"1000\"]\naddresses = [\"*\"]\nports = [-80]\n", "port range -80--80 is outside"},
		{"reversed range",
			"[[allow]]\nusers = [\"1000\"]\naddresses = [\"*\"]\nports = [\"90-80\"]\n", "port range 90-80 is outside 1-65535 or reversed"},
		{"range without end",
			"[[allow]]\nusers = [\"1000\"]\naddresses = [\"*\"]\nports = [\"80-\"]\n", `port "80-" is not a number`},
		{"port name",
			"[[allow]]\nusers = [\"1000\"]\naddresses = [\"*\"]\nports = [\"http\"]\n", `port "http" is not a number`},
		{"float port",
			"[[allow]]\nusers = [\"1000\"]\naddresses = [\"*\"]\nports = [80.0]\n", "is a float64"},
		{"bad network",
			"[[allow]]\nusers = [\"1000\"]\nnetworks = [\"sctp\"]\naddresses = [\"*\"]\nports = [80]\n", `rule 1: unknown network "sctp"`},
		{"bad network case",
			"[[allow]]\nusers = [\"1000\"]\nnetworks = [\"TCP\"]\naddresses = [\"*\"]\nports = [80]\n", `unknown network "TCP"`},
		{"network with family",
			"[[allow]]\nusers = [\"1000\"]\nnetworks = [\"tcp4\"]\naddresses = [\"*\"]\nports = [80]\n", `unknown network "tcp4"`},
		{"host name as address",
			"[[allow]]\nusers = [\"1000\"]\naddresses = [\"localhost\"]\nports = [80]\n", `address "localhost" is not an IP address`},
		{"address with port",
			"[[allow]]\nusers = [\"1000\"]\naddresses = [\"127.0.0.1:80\"]\nports = [80]\n", `address "127.0.0.1:80" is not an IP address`},
		{"CIDR as address",
			"[[allow]]\nusers = [\"1000\"]\naddresses = [\"10.0.0.0/8\"]\nports = [80]\n", `address "10.0.0.0/8" is not an IP address`},
		{"unknown user name",
			"[[allow]]\nusers = [\"portgate-test-no-such-user\"]\naddresses = [\"*\"]\nports = [80]\n", `rule 1: user "portgate-test-no-such-user"`},
		{"unknown group name",
			"[[allow]]\ngroups = [\"portgate-test-no-such-group\"]\naddresses = [\"*\"]\nports = [80]\n", `rule 1: group "portgate-test-no-such-group"`},
		{"uid above 32 bits",
			"[[allow]]\nusers = [\"4294967296\"]\naddresses = [\"*\"]\nports = [80]\n", `user "4294967296"`},
		{"error in second rule",
			"[[allow]]\nusers = [\"1000\"]\naddresses = [\"*\"]\nports = [80]\n[[allow]]\nusers = [\"1000\"]\naddresses = [\"*\"]\nports = [0]\n", "rule 2:"},
		{"TOML syntax",
			"[[allow]\n", "parse:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePolicy(tc.text)
			if err == nil {
				t.Fatalf("ParsePolicy: got policy %+v, want an error containing %q", p, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error: got %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// mustParsePolicy compiles text or ends the test.
func mustParsePolicy(t *testing.T, text string) *Policy {
	t.Helper()
	p, err := ParsePolicy(text)
	if err != nil {
		t.Fatalf("ParsePolicy: %v", err)
	}
	return p
}

func TestPolicyAllow(t *testing.T) {
	p := mustParsePolicy(t, `
[[allow]]
users = ["1000"]
networks = ["tcp"]
addresses = ["127.0.0.1", "fe80::1%eth0"]
ports = ["8000-8099"]

[[allow]]
groups = ["2000"]
networks = ["udp"]
addresses = ["*"]
ports = [53]
`)
	user := Peer{UID: 1000, GID: 1000, PID: 1}
	stranger := Peer{UID: 1001, GID: 1001, PID: 1}
	groupMember := Peer{UID: 1001, GID: 2000, PID: 1}

	cases := []struct {
		name string
		peer Peer
		net  protocol.Network
		addr string
		port uint16
		want int
	}{
		{"uid match", user, protocol.TCP, "127.0.0.1", 8000, 1},
		{"uid mismatch", stranger, protocol.TCP, "127.0.0.1", 8000, 0},
		{"gid of uid rule does not match", Peer{UID: 1001, GID: 1000}, protocol.TCP, "127.0.0.1", 8000, 0},
		{"gid match", groupMember, protocol.UDP, "127.0.0.1", 53, 2},
		{"gid match with other uid rule", groupMember, protocol.TCP, "127.0.0.1", 8000, 0},
		{"tcp rule allows tcp4", user, protocol.TCP4, "127.0.0.1", 8000, 1},
		{"tcp rule allows tcp6", user, protocol.TCP6, "fe80::1%eth0", 8000, 1},
		{"tcp rule denies udp", user, protocol.UDP, "127.0.0.1", 8000, 0},
		{"tcp rule denies udp4", user, protocol.UDP4, "127.0.0.1", 8000, 0},
		{"udp rule denies tcp", groupMember, protocol.TCP, "127.0.0.1", 53, 0},
		{"udp rule allows udp6", groupMember, protocol.UDP6, "::1", 53, 2},
		{"star allows any address", groupMember, protocol.UDP, "192.0.2.1", 53, 2},
		{"star allows IPv6 wildcard", groupMember, protocol.UDP, "::", 53, 2},
		{"listed address", user, protocol.TCP, "127.0.0.1", 8050, 1},
		{"unlisted address", user, protocol.TCP, "127.0.0.2", 8050, 0},
		{"IPv4 wildcard not listed", user, protocol.TCP, "0.0.0.0", 8050, 0},
		{"IPv4-mapped form not listed", user, protocol.TCP, "::ffff:127.0.0.1", 8050, 0},
		{"zone matches", user, protocol.TCP6, "fe80::1%eth0", 8050, 1},
		{"other zone", user, protocol.TCP6, "fe80::1%eth1", 8050, 0},
		{"missing zone", user, protocol.TCP6, "fe80::1", 8050, 0},
		{"range below low edge", user, protocol.TCP, "127.0.0.1", 7999, 0},
		{"range low edge", user, protocol.TCP, "127.0.0.1", 8000, 1},
		{"range high edge", user, protocol.TCP, "127.0.0.1", 8099, 1},
		{"range above high edge", user, protocol.TCP, "127.0.0.1", 8100, 0},
		{"single port below", groupMember, protocol.UDP, "127.0.0.1", 52, 0},
		{"single port above", groupMember, protocol.UDP, "127.0.0.1", 54, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := p.Allow(tc.peer, tc.net, netip.MustParseAddr(tc.addr), tc.port)
			if got != tc.want {
				t.Errorf("Allow(uid %d gid %d, %s, %s, %d): got rule %d, want %d",
					tc.peer.UID, tc.peer.GID, tc.net, tc.addr, tc.port, got, tc.want)
			}
		})
	}
}

func TestPolicyAllowFirstMatchingRule(t *testing.T) {
	p := mustParsePolicy(t, `
[[allow]]
users = ["1"]
addresses = ["*"]
ports = [80]

[[allow]]
users = ["1000"]
addresses = ["*"]
ports = ["80-90"]

[[allow]]
users = ["1000"]
addresses = ["*"]
ports = [80]
`)
	peer := Peer{UID: 1000, GID: 1000}
	addr := netip.MustParseAddr("127.0.0.1")
	if got := p.Allow(peer, protocol.TCP, addr, 80); got != 2 {
		t.Errorf("port 80: got rule %d, want 2, the first of rules 2 and 3 that match", got)
	}
	if got := p.Allow(peer, protocol.TCP, addr, 90); got != 2 {
		t.Errorf("port 90: got rule %d, want 2", got)
	}
	if got := p.Allow(Peer{UID: 1}, protocol.TCP, addr, 80); got != 1 {
		t.Errorf("uid 1 port 80: got rule %d, want 1", got)
	}
}

func TestPolicyZeroDenies(t *testing.T) {
	var p Policy
	peers := []Peer{{UID: 0, GID: 0}, {UID: 1000, GID: 1000}}
	for _, peer := range peers {
		for _, n := range []protocol.Network{protocol.TCP, protocol.UDP6} {
			if got := p.Allow(peer, n, netip.IPv6Unspecified(), 80); got != 0 {
				t.Errorf("zero Policy, uid %d, %s: got rule %d, want 0", peer.UID, n, got)
			}
		}
	}
}

const validPolicy = "[[allow]]\nusers = [\"1000\"]\naddresses = [\"*\"]\nports = [80]\n"

// writePolicy writes text to helper.toml in a fresh directory of mode 0755
// and sets the file's mode explicitly, so the umask does not matter.
func writePolicy(t *testing.T, text string, mode os.FileMode) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("chmod %s: %v", dir, err)
	}
	path = filepath.Join(dir, "helper.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatalf("chmod %s: %v", path, err)
	}
	return dir, path
}

func currentUID() uint32 { return uint32(os.Getuid()) }

func TestLoadPolicyValid(t *testing.T) {
	_, path := writePolicy(t, validPolicy, 0o644)
	p, err := LoadPolicy(path, currentUID())
	if err != nil {
		t.Fatalf("LoadPolicy: %v", err)
	}
	if p.Path != path {
		t.Errorf("Path: got %q, want %q", p.Path, path)
	}
	if len(p.Rules) != 1 {
		t.Fatalf("rules: got %d, want 1", len(p.Rules))
	}
	if got := p.Allow(Peer{UID: 1000}, protocol.TCP, netip.IPv6Unspecified(), 80); got != 1 {
		t.Errorf("Allow: got rule %d, want 1", got)
	}
}

func TestLoadPolicyMissingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "helper.toml")
	_, err := LoadPolicy(path, currentUID())
	if err == nil {
		t.Fatal("LoadPolicy: got nil error, want ErrNoPolicy")
	}
	if !errors.Is(err, ErrNoPolicy) {
		t.Errorf("error: got %v, want it to wrap ErrNoPolicy", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error: got %q, want it to name %s", err, path)
	}
	if !strings.Contains(err.Error(), "[[allow]]") {
		t.Errorf("error: got %q, want it to show an example policy", err)
	}
}

func TestLoadPolicyMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-such-dir", "helper.toml")
	_, err := LoadPolicy(path, currentUID())
	if err == nil {
		t.Fatal("LoadPolicy: got nil error, want an error for the missing directory")
	}
	if !errors.Is(err, ErrNoPolicy) {
		t.Errorf("error: got %q, want it to wrap ErrNoPolicy like a missing file", err)
	}
	if !strings.Contains(err.Error(), "directory does not exist") || !strings.Contains(err.Error(), "[[allow]]") {
		t.Errorf("error: got %q, want it to name the missing directory and show an example", err)
	}
}

func TestLoadPolicyWritableFile(t *testing.T) {
	for _, mode := range []os.FileMode{0o666, 0o664, 0o646} {
		t.Run(mode.String(), func(t *testing.T) {
			_, path := writePolicy(t, validPolicy, mode)
			_, err := LoadPolicy(path, currentUID())
			if err == nil {
				t.Fatalf("LoadPolicy: got nil error, want mode %#o rejected", mode)
			}
			if want := "chmod go-w " + path; !strings.Contains(err.Error(), want) {
				t.Errorf("error: got %q, want it to contain %q", err, want)
			}
			if !strings.Contains(err.Error(), "policy file") {
				t.Errorf("error: got %q, want it to say the policy file is at fault", err)
			}
		})
	}
}

func TestLoadPolicyWritableDirectory(t *testing.T) {
	for _, mode := range []os.FileMode{0o777, 0o775, 0o757} {
		t.Run(mode.String(), func(t *testing.T) {
			dir, path := writePolicy(t, validPolicy, 0o644)
			if err := os.Chmod(dir, mode); err != nil {
				t.Fatalf("chmod %s: %v", dir, err)
			}
			_, err := LoadPolicy(path, currentUID())
			if err == nil {
				t.Fatalf("LoadPolicy: got nil error, want directory mode %#o rejected", mode)
			}
			if want := "chmod go-w " + dir; !strings.Contains(err.Error(), want) {
				t.Errorf("error: got %q, want it to contain %q", err, want)
			}
			if !strings.Contains(err.Error(), "policy directory") {
				t.Errorf("error: got %q, want it to say the policy directory is at fault", err)
			}
		})
	}
}

func TestLoadPolicyWrongOwner(t *testing.T) {
	_, path := writePolicy(t, validPolicy, 0o644)
	other := currentUID() + 1
	_, err := LoadPolicy(path, other)
	if err == nil {
		t.Fatalf("LoadPolicy with owner uid %d: got nil error, want the owner rejected", other)
	}
	if !strings.Contains(err.Error(), "chown") {
		t.Errorf("error: got %q, want it to contain \"chown\"", err)
	}
	if want := "want uid " + strconv.FormatUint(uint64(other), 10); !strings.Contains(err.Error(), want) {
		t.Errorf("error: got %q, want it to contain %q", err, want)
	}
}

// The directory passes and only the file has the wrong owner, which needs
// root to arrange with chown.
func TestLoadPolicyWrongFileOwner(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("chown of the test file to another uid needs root")
	}
	_, path := writePolicy(t, validPolicy, 0o644)
	other := currentUID() + 1
	if err := os.Chown(path, int(other), -1); err != nil {
		t.Fatalf("chown %s: %v", path, err)
	}
	_, err := LoadPolicy(path, currentUID())
	if err == nil {
		t.Fatal("LoadPolicy: got nil error, want the file owner rejected")
	}
	if want := "policy file " + path + " is owned by uid " + strconv.FormatUint(uint64(other), 10); !strings.Contains(err.Error(), want) {
		t.Errorf("error: got %q, want it to contain %q", err, want)
	}
	if !strings.Contains(err.Error(), "chown") {
		t.Errorf("error: got %q, want it to contain \"chown\"", err)
	}
}

func TestLoadPolicySymlink(t *testing.T) {
	dir, target := writePolicy(t, validPolicy, 0o644)
	link := filepath.Join(dir, "link.toml")
	if err := os.Symlink(target, link); err != nil {
		t.Fatalf("symlink: %v", err)
	}
	// The target itself loads, so the rejection below is due to the link.
	if _, err := LoadPolicy(target, currentUID()); err != nil {
		t.Fatalf("LoadPolicy(target): %v", err)
	}
	_, err := LoadPolicy(link, currentUID())
	if err == nil {
		t.Fatal("LoadPolicy(symlink): got nil error, want the symlink rejected")
	}
	if !errors.Is(err, syscall.ELOOP) {
		t.Errorf("error: got %v, want ELOOP from O_NOFOLLOW", err)
	}
}

func TestLoadPolicyTooLarge(t *testing.T) {
	text := validPolicy + "#" + strings.Repeat("x", maxPolicySize-len(validPolicy)-1)
	if len(text) != maxPolicySize {
		t.Fatalf("test policy: got %d bytes, want %d", len(text), maxPolicySize)
	}

	_, path := writePolicy(t, text, 0o644)
	if _, err := LoadPolicy(path, currentUID()); err != nil {
		t.Errorf("LoadPolicy of exactly %d bytes: %v", maxPolicySize, err)
	}

	_, path = writePolicy(t, text+"x", 0o644)
	_, err := LoadPolicy(path, currentUID())
	if err == nil {
		t.Fatalf("LoadPolicy of %d bytes: got nil error, want the size rejected", maxPolicySize+1)
	}
	if !strings.Contains(err.Error(), "larger than 1048576 bytes") {
		t.Errorf("error: got %q, want it to contain \"larger than 1048576 bytes\"", err)
	}
}

func TestLoadPolicyParseErrorNamesFile(t *testing.T) {
	_, path := writePolicy(t, "[[allow]]\nusers = [\"1000\"]\n", 0o644)
	_, err := LoadPolicy(path, currentUID())
	if err == nil {
		t.Fatal("LoadPolicy: got nil error, want the rule without addresses rejected")
	}
	if want := "policy " + path + ": rule 1: no addresses"; !strings.Contains(err.Error(), want) {
		t.Errorf("error: got %q, want it to contain %q", err, want)
	}
}

func TestLoadPolicyDirectoryAsFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "helper.toml")
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatalf("mkdir: %v", err)
	}
	_, err := LoadPolicy(path, currentUID())
	if err == nil {
		t.Fatal("LoadPolicy of a directory: got nil error, want it rejected")
	}
	if !strings.Contains(err.Error(), "wrong file type") {
		t.Errorf("error: got %q, want it to contain \"wrong file type\"", err)
	}
}

// A FIFO in place of the policy must be rejected as the wrong file type
// without waiting for a writer.
func TestLoadPolicyFIFO(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "helper.toml")
	if err := unix.Mkfifo(path, 0o644); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := LoadPolicy(path, currentUID())
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "wrong file type") {
			t.Errorf("error: got %v, want it to contain \"wrong file type\"", err)
		}
	case <-time.After(2 * time.Second):
		// Open the write end so that the blocked open returns and the
		// goroutine ends.
		w, err := os.OpenFile(path, os.O_WRONLY|unix.O_NONBLOCK, 0)
		if err == nil {
			w.Close()
		}
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Errorf("LoadPolicy of a FIFO: still blocked after its write end was opened")
		}
		t.Errorf("LoadPolicy of a FIFO: still blocked after 2s, want a prompt \"wrong file type\" error")
	}
}
