package helper

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"golang.org/x/sys/unix"

	"github.com/portgate/portgate/internal/peercred"
	"github.com/portgate/portgate/protocol"
)

// PolicyPath is the policy file the helper reads. It is fixed at build time
// (go build -ldflags "-X github.com/portgate/portgate/helper.PolicyPath=...")
// so that no caller of the helper can point it at a file of its own.
var PolicyPath = "/etc/portgate/helper.toml"

// maxPolicySize bounds the policy file read into memory, in bytes.
const maxPolicySize = 1 << 20

// PolicyExample is a policy that lets the account "portgate" bind TCP and
// UDP ports 80 and 443 on any address. Messages about a missing policy show it.
const PolicyExample = `[[allow]]
users = ["portgate"]
networks = ["tcp", "udp"]
addresses = ["*"]
ports = [80, 443]
`

// Policy is the compiled set of rules. The zero Policy grants nothing.
type Policy struct {
	Path  string
	Rules []Rule
	// Missing is set when no policy file exists, so denials can say how
	// to write one.
	Missing bool
	Limits  Limits
	Daemon  DaemonConfig
}

// Rule allows the listed users and groups to bind the listed ports.
type Rule struct {
	UIDs     map[uint32]bool
	GIDs     map[uint32]bool
	TCP, UDP bool
	// AnyAddress is true for "*"; otherwise Addresses lists the allowed
	// addresses, zones included.
	AnyAddress bool
	Addresses  []netip.Addr
	Ports      []PortRange
}

// PortRange is an inclusive range of ports.
type PortRange struct{ Low, High uint16 }

// Peer is the identity of a client as the kernel reports it.
type Peer = peercred.Cred

type ruleFile struct {
	Limits *limitsFile `toml:"limits"`
	Daemon *daemonFile `toml:"daemon"`
	Allow  []struct {
		Users     []any    `toml:"users"`
		Groups    []any    `toml:"groups"`
		Networks  []string `toml:"networks"`
		Addresses []string `toml:"addresses"`
		Ports     []any    `toml:"ports"`
	} `toml:"allow"`
}

// ErrNoPolicy is returned by LoadPolicy when the policy file does not exist.
var ErrNoPolicy = errors.New("no policy file")

// LoadPolicy reads and compiles the policy at path. The file and its
// directory must be owned by ownerUID and writable by no one else; a file
// that fails the check is rejected as a whole, since anyone who could write
// it could grant themselves any port.
func LoadPolicy(path string, ownerUID uint32) (*Policy, error) {
	if err := checkOwner(filepath.Dir(path), ownerUID, true); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w at %s (its directory does not exist either): the helper grants nothing until one exists, for example:\n%s", ErrNoPolicy, path, PolicyExample)
		}
		return nil, err
	}
	// O_NONBLOCK keeps a FIFO at the path from blocking the open; the
	// type check below then rejects it.
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s: the helper grants nothing until one exists, for example:\n%s", ErrNoPolicy, path, PolicyExample)
	}
	if errors.Is(err, os.ErrPermission) {
		return nil, fmt.Errorf("open policy: %w: the helper runs as uid %d and must be able to read it: run chmod 644 %s", err, os.Getuid(), path)
	}
	if err != nil {
		return nil, fmt.Errorf("open policy: %w", err)
	}
	defer f.Close()
	if err := checkOwnerFD(f, ownerUID); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPolicySize+1))
	if err != nil {
		return nil, fmt.Errorf("read policy %s: %w", path, err)
	}
	if len(data) > maxPolicySize {
		return nil, fmt.Errorf("policy %s is larger than %d bytes", path, maxPolicySize)
	}
	p, err := ParsePolicy(string(data))
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	p.Path = path
	return p, nil
}

func checkOwner(path string, ownerUID uint32, dir bool) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fmt.Errorf("check policy directory %s: %w", path, err)
	}
	return checkStat(path, &st, ownerUID, dir)
}

func checkOwnerFD(f *os.File, ownerUID uint32) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("check policy %s: %w", f.Name(), err)
	}
	return checkStat(f.Name(), &st, ownerUID, false)
}

func checkStat(path string, st *unix.Stat_t, ownerUID uint32, dir bool) error {
	kind := "policy file"
	if dir {
		kind = "policy directory"
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if dir != isDir || (!dir && st.Mode&unix.S_IFMT != unix.S_IFREG) {
		return fmt.Errorf("%s %s has the wrong file type", kind, path)
	}
	if st.Uid != ownerUID {
		return fmt.Errorf("%s %s is owned by uid %d, want uid %d: run chown %d %s", kind, path, st.Uid, ownerUID, ownerUID, path)
	}
	if st.Mode&0o022 != 0 {
		return fmt.Errorf("%s %s has mode %#o and is writable by group or others: run chmod go-w %s", kind, path, st.Mode&0o7777, path)
	}
	return nil
}

// ParsePolicy compiles policy text. User and group names are resolved now,
// once, so that a later change to /etc/passwd cannot widen a running policy.
func ParsePolicy(text string) (*Policy, error) {
	var rf ruleFile
	md, err := toml.Decode(text, &rf)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if un := md.Undecoded(); len(un) > 0 {
		return nil, fmt.Errorf("unknown key %q: the policy takes [[allow]] rules (users, groups, networks, addresses, ports), [limits] and [daemon]", un[0].String())
	}
	p := &Policy{}
	if p.Limits, err = rf.Limits.compile(); err != nil {
		return nil, err
	}
	if p.Daemon, err = rf.Daemon.compile(); err != nil {
		return nil, err
	}
	for i, r := range rf.Allow {
		n := i + 1
		rule := Rule{UIDs: map[uint32]bool{}, GIDs: map[uint32]bool{}}
		for _, u := range r.Users {
			uid, err := lookupAny(u, true)
			if err != nil {
				return nil, fmt.Errorf("rule %d: %w", n, err)
			}
			rule.UIDs[uid] = true
		}
		for _, g := range r.Groups {
			gid, err := lookupAny(g, false)
			if err != nil {
				return nil, fmt.Errorf("rule %d: %w", n, err)
			}
			rule.GIDs[gid] = true
		}
		if len(rule.UIDs)+len(rule.GIDs) == 0 {
			return nil, fmt.Errorf("rule %d names no users or groups: add users = [\"NAME\"] or groups = [\"NAME\"]", n)
		}
		if err := rule.setNetworks(r.Networks); err != nil {
			return nil, fmt.Errorf("rule %d: %w", n, err)
		}
		if err := rule.setAddresses(r.Addresses); err != nil {
			return nil, fmt.Errorf("rule %d: %w", n, err)
		}
		if err := rule.setPorts(r.Ports); err != nil {
			return nil, fmt.Errorf("rule %d: %w", n, err)
		}
		p.Rules = append(p.Rules, rule)
	}
	return p, nil
}

// lookupAny resolves a name or a numeric id, written with or without quotes.
func lookupAny(v any, isUser bool) (uint32, error) {
	switch v := v.(type) {
	case string:
		return lookupID(v, isUser)
	case int64:
		if v < 0 || v > 1<<32-1 {
			return 0, fmt.Errorf("id %d is outside 0 to 4294967295", v)
		}
		return uint32(v), nil
	}
	return 0, fmt.Errorf("%v is a %T, want a name or a numeric id", v, v)
}

func lookupID(name string, isUser bool) (uint32, error) {
	if name == "" {
		return 0, errors.New("empty user or group name")
	}
	if id, err := strconv.ParseUint(name, 10, 32); err == nil {
		return uint32(id), nil
	}
	var idText string
	if isUser {
		u, err := user.Lookup(name)
		if err != nil {
			return 0, fmt.Errorf("user %q: %w", name, err)
		}
		idText = u.Uid
	} else {
		g, err := user.LookupGroup(name)
		if err != nil {
			return 0, fmt.Errorf("group %q: %w", name, err)
		}
		idText = g.Gid
	}
	id, err := strconv.ParseUint(idText, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("id %q of %q is not numeric", idText, name)
	}
	return uint32(id), nil
}

func (r *Rule) setNetworks(names []string) error {
	if len(names) == 0 {
		r.TCP, r.UDP = true, true
		return nil
	}
	for _, n := range names {
		switch n {
		case "tcp":
			r.TCP = true
		case "udp":
			r.UDP = true
		default:
			return fmt.Errorf("unknown network %q: use \"tcp\" or \"udp\"", n)
		}
	}
	return nil
}

func (r *Rule) setAddresses(addrs []string) error {
	if len(addrs) == 0 {
		return errors.New("no addresses: list IP addresses, or \"*\" for any address")
	}
	for _, s := range addrs {
		if s == "*" {
			r.AnyAddress = true
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("address %q is not an IP address or \"*\"", s)
		}
		r.Addresses = append(r.Addresses, a)
	}
	return nil
}

func (r *Rule) setPorts(ports []any) error {
	if len(ports) == 0 {
		return errors.New("no ports: list ports such as 80 or ranges such as \"8000-8099\"")
	}
	for _, v := range ports {
		pr, err := parsePortRange(v)
		if err != nil {
			return err
		}
		r.Ports = append(r.Ports, pr)
	}
	return nil
}

func parsePortRange(v any) (PortRange, error) {
	var low, high int64
	switch v := v.(type) {
	case int64:
		low, high = v, v
	case string:
		lo, hi, isRange := strings.Cut(v, "-")
		var err1, err2 error
		low, err1 = strconv.ParseInt(strings.TrimSpace(lo), 10, 32)
		high, err2 = low, nil
		if isRange {
			high, err2 = strconv.ParseInt(strings.TrimSpace(hi), 10, 32)
		}
		if err1 != nil || err2 != nil {
			return PortRange{}, fmt.Errorf("port %q is not a number or a range such as \"8000-8099\"", v)
		}
	default:
		return PortRange{}, fmt.Errorf("port %v is a %T, want a number or a range string", v, v)
	}
	if low < 1 || high > 65535 || low > high {
		return PortRange{}, fmt.Errorf("port range %d-%d is outside 1-65535 or reversed", low, high)
	}
	return PortRange{uint16(low), uint16(high)}, nil
}

// Allow returns the 1-based number of the first rule that lets peer bind
// addr:port on net, or 0 when none does. addr is the concrete address the
// helper is about to bind, never an unresolved wildcard.
func (p *Policy) Allow(peer Peer, net protocol.Network, addr netip.Addr, port uint16) int {
	for i := range p.Rules {
		if p.Rules[i].allows(peer, net, addr, port) {
			return i + 1
		}
	}
	return 0
}

func (r *Rule) allows(peer Peer, net protocol.Network, addr netip.Addr, port uint16) bool {
	if !r.UIDs[peer.UID] && !peer.MemberOf(r.GIDs) {
		return false
	}
	if (net.Stream() && !r.TCP) || (!net.Stream() && !r.UDP) {
		return false
	}
	if !r.AnyAddress && !containsAddr(r.Addresses, addr) {
		return false
	}
	for _, pr := range r.Ports {
		if port >= pr.Low && port <= pr.High {
			return true
		}
	}
	return false
}

func containsAddr(list []netip.Addr, a netip.Addr) bool {
	for _, b := range list {
		if a == b {
			return true
		}
	}
	return false
}
