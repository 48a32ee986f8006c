package helper

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const capNetBind = unix.CAP_NET_BIND_SERVICE

// DropPrivileges leaves the process with CAP_NET_BIND_SERVICE alone and
// reports the mechanism that lets it bind privileged ports.
//
// It refuses to run when the real and effective user or group differ,
// since the helper is never meant to be setuid. It then records why the
// capability might be missing, drops every other capability from the
// effective, permitted, inheritable and ambient sets, empties the bounding
// set when it holds CAP_SETPCAP to do so, and sets no_new_privs. Each step
// applies to every thread of the process, which needs a binary built with
// CGO_ENABLED=0.
func DropPrivileges() (*Mechanism, error) {
	if err := refuseSetuid(); err != nil {
		return nil, err
	}
	m := &Mechanism{UnprivilegedPortStart: readUnprivilegedPortStart()}
	caps, err := getCaps()
	if err != nil {
		return nil, err
	}
	hasBind := caps.Permitted&(1<<capNetBind) != 0
	hadNNP, _ := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)
	// Read the ambient set before it is cleared below: systemd's
	// AmbientCapabilities= grants the right this way, with no file capability.
	ambient, _ := unix.PrctlRetInt(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_IS_SET, capNetBind, 0, 0)
	if !hasBind {
		m.Problems = whyNoCapability(hadNNP == 1)
	}

	if err := clearBoundingSet(caps, m); err != nil {
		return nil, err
	}
	if _, _, errno := syscall.AllThreadsSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0); errno != 0 {
		m.Notes = append(m.Notes, fmt.Sprintf("ambient capabilities not cleared: %v", errno))
	}
	keep := uint32(0)
	if hasBind {
		keep = 1 << capNetBind
	}
	if err := setCaps(keep, keep, 0); err != nil {
		return nil, err
	}
	if _, _, errno := syscall.AllThreadsSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); errno != 0 {
		return nil, fmt.Errorf("set no_new_privs: %w", errno)
	}

	switch {
	case hasBind:
		m.Kind = "capability"
		m.Source = capabilitySource(ambient == 1)
	case m.UnprivilegedPortStart >= 0 && m.UnprivilegedPortStart < 1024:
		m.Kind = "unprivileged-port-start"
		m.Source = fmt.Sprintf("net.ipv4.ip_unprivileged_port_start is %d", m.UnprivilegedPortStart)
	default:
		m.Kind = "none"
	}
	return m, nil
}

func refuseSetuid() error {
	if os.Getuid() != os.Geteuid() || os.Getgid() != os.Getegid() {
		exe, _ := os.Executable()
		return fmt.Errorf("real and effective ids differ (uid %d, euid %d, gid %d, egid %d): portgate-helper must not be setuid or setgid: run chmod u-s,g-s %s and grant the capability with setcap cap_net_bind_service,cap_setpcap=p instead",
			os.Getuid(), os.Geteuid(), os.Getgid(), os.Getegid(), exe)
	}
	return nil
}

type capSets struct{ Effective, Permitted, Inheritable uint64 }

func getCaps() (capSets, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return capSets{}, fmt.Errorf("read capabilities (capget): %w", err)
	}
	join := func(lo, hi uint32) uint64 { return uint64(hi)<<32 | uint64(lo) }
	return capSets{
		Effective:   join(data[0].Effective, data[1].Effective),
		Permitted:   join(data[0].Permitted, data[1].Permitted),
		Inheritable: join(data[0].Inheritable, data[1].Inheritable),
	}, nil
}

// setCaps sets the three capability sets of every thread. The values fit
// in the low word because the helper keeps only capabilities below 32.
func setCaps(effective, permitted, inheritable uint32) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{{Effective: effective, Permitted: permitted, Inheritable: inheritable}}
	_, _, errno := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	if errno == syscall.ENOTSUP {
		return errors.New("set capabilities: this binary was built with cgo; build portgate-helper with CGO_ENABLED=0")
	}
	if errno != 0 {
		return fmt.Errorf("set capabilities (capset): %w", errno)
	}
	return nil
}

// clearBoundingSet drops every capability but CAP_NET_BIND_SERVICE from the
// bounding set. Dropping needs CAP_SETPCAP, which the helper holds only when
// it runs as root or its file capability includes cap_setpcap.
func clearBoundingSet(caps capSets, m *Mechanism) error {
	const setpcap = 1 << unix.CAP_SETPCAP
	if caps.Permitted&setpcap == 0 {
		m.Notes = append(m.Notes, "bounding set kept: no cap_setpcap to clear it (grant cap_net_bind_service,cap_setpcap=p to clear it); no_new_privs still stops any exec from gaining capabilities")
		return nil
	}
	if err := setCaps(uint32(caps.Permitted&0xffffffff)|setpcap, uint32(caps.Permitted&0xffffffff), 0); err != nil {
		return err
	}
	for c := 0; c <= lastCap(); c++ {
		if c == capNetBind {
			continue
		}
		if _, _, errno := syscall.AllThreadsSyscall6(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0, 0); errno != 0 && errno != syscall.EINVAL {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, errno)
		}
	}
	return nil
}

func lastCap() int {
	if n, err := readIntFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		return n
	}
	return unix.CAP_LAST_CAP
}

func readUnprivilegedPortStart() int {
	n, err := readIntFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err != nil {
		return -1
	}
	return n
}

func readIntFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// capabilitySource names where CAP_NET_BIND_SERVICE came from; ambient
// tells whether it was in the ambient set at start.
func capabilitySource(ambient bool) string {
	if os.Getuid() == 0 {
		return "running as root"
	}
	exe, _ := os.Executable()
	if fc, err := readFileCaps(exe); err == nil && fc.Permitted&(1<<capNetBind) != 0 {
		return "file capability on " + exe
	}
	if ambient {
		return "ambient capability from the parent process (systemd AmbientCapabilities=)"
	}
	return "inherited from the parent process"
}

// whyNoCapability lists every known reason for a missing
// CAP_NET_BIND_SERVICE, each with its fix.
func whyNoCapability(hadNNP bool) []string {
	exe, _ := os.Executable()
	var problems []string
	fc, err := readFileCaps(exe)
	switch {
	case err != nil || fc.Permitted&(1<<capNetBind) == 0:
		problems = append(problems, fmt.Sprintf("the helper file %s carries no cap_net_bind_service (a package upgrade or copy that replaces the file drops it): run setcap cap_net_bind_service,cap_setpcap=p %s", exe, exe))
	case hadNNP:
		problems = append(problems, "no_new_privs was set before the helper started (systemd NoNewPrivileges=, or a container's no-new-privileges setting), so the kernel ignored its file capability: turn it off for the helper, or grant the capability with systemd AmbientCapabilities=CAP_NET_BIND_SERVICE")
	}
	if r, _ := unix.PrctlRetInt(unix.PR_CAPBSET_READ, capNetBind, 0, 0, 0); r != 1 {
		problems = append(problems, "CAP_NET_BIND_SERVICE is not in the capability bounding set (a container started with cap-drop ALL): add the capability to the container, for example --cap-add NET_BIND_SERVICE")
	}
	var st unix.Statfs_t
	if exe != "" && unix.Statfs(exe, &st) == nil && st.Flags&unix.MS_NOSUID != 0 {
		problems = append(problems, fmt.Sprintf("%s is on a filesystem mounted nosuid, where file capabilities are ignored: install the helper on another filesystem", exe))
	}
	if inUserNamespace() {
		problems = append(problems, "the helper runs in a user namespace, where a file capability set outside it does not apply: set the capability from inside the namespace or grant it to the container")
	}
	if len(problems) == 0 {
		problems = append(problems, "the reason is unknown: check getcap on the helper file and CapBnd in /proc/self/status")
	}
	return append(problems, "or lower net.ipv4.ip_unprivileged_port_start, after which no helper is needed")
}

func inUserNamespace() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
}

// fileCaps is the part of a security.capability extended attribute that
// portgate reads.
type fileCaps struct {
	Permitted, Inheritable uint64
	Effective              bool
}

func readFileCaps(path string) (fileCaps, error) {
	buf := make([]byte, 64)
	n, err := unix.Getxattr(path, "security.capability", buf)
	if err != nil {
		return fileCaps{}, fmt.Errorf("read file capability of %s: %w", path, err)
	}
	return parseFileCaps(buf[:n])
}

// parseFileCaps decodes a vfs_cap_data value: a little-endian magic word
// whose high byte is the revision and whose bit 0 is the effective flag,
// then permitted and inheritable words, twice for revisions 2 and 3, and a
// root uid for revision 3. Like the kernel, it takes only the exact size
// of each revision: 12, 20 or 24 bytes.
func parseFileCaps(b []byte) (fileCaps, error) {
	if len(b) < 4 {
		return fileCaps{}, fmt.Errorf("file capability of %d bytes is too short", len(b))
	}
	magic := binary.LittleEndian.Uint32(b)
	fc := fileCaps{Effective: magic&1 != 0}
	word := func(i int) uint64 { return uint64(binary.LittleEndian.Uint32(b[4+4*i:])) }
	rev := magic & 0xFF000000
	sizes := map[uint32]int{0x01000000: 12, 0x02000000: 20, 0x03000000: 24}
	size, ok := sizes[rev]
	if !ok {
		return fileCaps{}, fmt.Errorf("unknown file capability revision %#x", rev)
	}
	if len(b) != size {
		return fileCaps{}, fmt.Errorf("revision %d file capability of %d bytes, want %d", rev>>24, len(b), size)
	}
	fc.Permitted, fc.Inheritable = word(0), word(1)
	if rev != 0x01000000 {
		fc.Permitted |= word(2) << 32
		fc.Inheritable |= word(3) << 32
	}
	return fc, nil
}
