package doctor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// errNoAttribute is returned by Host.Getxattr for a file without the
// attribute.
var errNoAttribute = errors.New("no such attribute")

// capNetBindService is CAP_NET_BIND_SERVICE's bit number.
const capNetBindService = 10

// linuxCapabilities is the file capability the packages install.
const linuxCapabilities = "cap_net_bind_service,cap_setpcap=p"

func (d *diagnosis) linux() {
	path := d.opts.HelperPath
	fileCapability := d.checkFileCapability()
	d.checkNoNewPrivs()
	d.checkBoundingSet()
	d.checkNosuid()
	d.checkUserNamespace()
	start := d.checkPortStart()
	daemon := d.checkSystemdHelper(fileCapability)

	check := d.runHelperCheck()
	switch {
	case check.ok:
		d.grant(check.mechanism, check.mechanism != "unprivileged-port-start")
	case daemon:
		d.grant("capability", true)
	case start >= 0 && start < 1024:
		d.grant("unprivileged-port-start", false)
	}
	if !d.report.CanGrant && !check.ran {
		d.report.info("fix", "after fixing the problems above, test with: portgate doctor, or runuser -u "+d.opts.Account+" -- "+path+" check")
	}
}

// checkFileCapability reads the helper's file capability with getcap, or
// from its security.capability attribute when getcap is missing, and
// reports whether it grants cap_net_bind_service.
func (d *diagnosis) checkFileCapability() bool {
	path := d.opts.HelperPath
	fix := fmt.Sprintf("setcap %s %s", linuxCapabilities, path)
	has, source, err := d.fileCapability(path)
	switch {
	case err != nil:
		d.report.problem("file capability", fmt.Sprintf("read the file capability of %s: %v", path, err), fix)
	case has:
		d.report.ok("file capability", fmt.Sprintf("%s carries cap_net_bind_service in its permitted set (%s)", path, source))
	default:
		d.report.problem("file capability", fmt.Sprintf("%s carries no cap_net_bind_service (%s); a package upgrade or a copy that replaces the file drops it", path, source), fix)
	}
	return err == nil && has
}

func (d *diagnosis) fileCapability(path string) (bool, string, error) {
	out, err := d.host.Run(d.ctx, "getcap", path)
	if err == nil && out.Exit == 0 {
		has, perr := parseGetcap(out.Text, path)
		if perr == nil {
			return has, "getcap: " + orNone(strings.TrimSpace(out.Text)), nil
		}
	}
	value, xerr := d.host.Getxattr(path, "security.capability")
	if xerr != nil {
		if errors.Is(xerr, errNoAttribute) {
			return false, "no security.capability attribute", nil
		}
		return false, "", xerr
	}
	permitted, perr := permittedFromXattr(value)
	if perr != nil {
		return false, "", perr
	}
	return permitted&(1<<capNetBindService) != 0, "security.capability attribute", nil
}

func orNone(s string) string {
	if s == "" {
		return "no capability"
	}
	return s
}

// parseGetcap reads the line getcap prints for path and reports whether
// cap_net_bind_service is in the permitted set. Current libcap releases
// (2.66 in Debian 12) print "PATH cap_a,cap_b=p", older ones
// "PATH = cap_a,cap_b+ep", and a file without capabilities prints nothing.
func parseGetcap(text, path string) (bool, error) {
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), path+" ")
		if !ok {
			continue
		}
		rest = strings.TrimPrefix(strings.TrimSpace(rest), "= ")
		// Each clause is a list of capabilities, an operator and flags,
		// for example "cap_net_bind_service,cap_setpcap=p" or "cap_x+ep".
		for _, clause := range strings.Fields(rest) {
			i := strings.IndexAny(clause, "=+-")
			if i < 0 {
				return false, fmt.Errorf("getcap clause %q has no operator", clause)
			}
			names, flags := clause[:i], clause[i+1:]
			if clause[i] == '-' || !strings.Contains(flags, "p") {
				continue
			}
			for _, name := range strings.Split(names, ",") {
				if name == "cap_net_bind_service" || name == "all" {
					return true, nil
				}
			}
		}
		return false, nil
	}
	if strings.TrimSpace(text) != "" && !strings.Contains(text, path) {
		return false, fmt.Errorf("getcap printed %q, not a line for %s", strings.TrimSpace(text), path)
	}
	return false, nil
}

// permittedFromXattr returns the permitted set of a security.capability
// value: the word after the magic word, and for revisions 2 and 3 the
// high word after the first inheritable word.
func permittedFromXattr(b []byte) (uint64, error) {
	sizes := map[uint32]int{1: 12, 2: 20, 3: 24}
	if len(b) < 4 {
		return 0, fmt.Errorf("security.capability of %d bytes is too short", len(b))
	}
	rev := binary.LittleEndian.Uint32(b) >> 24
	if sizes[rev] != len(b) {
		return 0, fmt.Errorf("security.capability revision %d of %d bytes is invalid", rev, len(b))
	}
	permitted := uint64(binary.LittleEndian.Uint32(b[4:]))
	if rev > 1 {
		permitted |= uint64(binary.LittleEndian.Uint32(b[12:])) << 32
	}
	return permitted, nil
}

// procStatus returns the fields of /proc/self/status.
func (d *diagnosis) procStatus() map[string]string {
	b, err := d.host.ReadFile("/proc/self/status")
	if err != nil {
		return nil
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	return fields
}

// checkNoNewPrivs reports no_new_privs on doctor's own process: the helper
// inherits it from any parent that has it, and then the kernel ignores
// the helper's file capability.
func (d *diagnosis) checkNoNewPrivs() {
	if d.procStatus()["NoNewPrivs"] != "1" {
		d.report.ok("no_new_privs", "not set here, so a helper started from this context keeps its file capability")
		return
	}
	d.report.problem("no_new_privs", "no_new_privs is set on this process, so a helper started from here or from a server under the same setting (systemd NoNewPrivileges=yes, a container's no-new-privileges) gets no file capability",
		"remove NoNewPrivileges= from the unit that starts portgate (portgate.service) or the no-new-privileges option of the container",
		"or run the helper as its own service, portgate-helper.service, with AmbientCapabilities=CAP_NET_BIND_SERVICE")
}

func (d *diagnosis) checkBoundingSet() {
	bnd, err := strconv.ParseUint(d.procStatus()["CapBnd"], 16, 64)
	if err != nil {
		d.report.info("bounding set", "could not read CapBnd from /proc/self/status")
		return
	}
	if bnd&(1<<capNetBindService) == 0 {
		d.report.problem("bounding set", "CAP_NET_BIND_SERVICE is not in the capability bounding set (a container started with cap-drop ALL), so no file capability can grant it",
			"add the capability to the container, for example docker run --cap-add NET_BIND_SERVICE")
		return
	}
	d.report.ok("bounding set", "CAP_NET_BIND_SERVICE is in the bounding set")
}

// checkNosuid finds the mount that holds the helper in /proc/self/mountinfo
// and reports a nosuid option, which makes the kernel ignore file
// capabilities.
func (d *diagnosis) checkNosuid() {
	b, err := d.host.ReadFile("/proc/self/mountinfo")
	if err != nil {
		d.report.info("nosuid", "could not read /proc/self/mountinfo: "+err.Error())
		return
	}
	mount, options := mountOf(string(b), d.opts.HelperPath)
	if mount == "" {
		d.report.info("nosuid", "no mount found for "+d.opts.HelperPath)
		return
	}
	for _, o := range strings.Split(options, ",") {
		if o == "nosuid" {
			d.report.problem("nosuid", fmt.Sprintf("%s is on %s, mounted nosuid, where the kernel ignores file capabilities", d.opts.HelperPath, mount),
				fmt.Sprintf("install the helper on a filesystem mounted without nosuid, or run mount -o remount,suid %s", mount))
			return
		}
	}
	d.report.ok("nosuid", fmt.Sprintf("%s is on %s, mounted without nosuid", d.opts.HelperPath, mount))
}

// mountOf returns the mount point that contains path, the longest that is
// a prefix of it, and that mount's per-mount options. Fields of a
// mountinfo line: id, parent, major:minor, root, mount point, options.
func mountOf(mountinfo, path string) (string, string) {
	best, options := "", ""
	for _, line := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		point := unescapeMount(f[4])
		inside := point == "/" || path == point || strings.HasPrefix(path, point+"/")
		// A later mount on the same point hides an earlier one.
		if inside && len(point) >= len(best) {
			best, options = point, f[5]
		}
	}
	return best, options
}

// unescapeMount decodes the octal escapes (\040 for a space) of a
// mountinfo path.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (d *diagnosis) checkUserNamespace() {
	b, err := d.host.ReadFile("/proc/self/uid_map")
	if err != nil {
		return
	}
	if f := strings.Fields(string(b)); len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295" {
		d.report.ok("user namespace", "doctor runs in the initial user namespace")
		return
	}
	d.report.problem("user namespace", "this runs in a user namespace, where a file capability set outside it does not apply",
		"set the capability from inside the namespace, or grant CAP_NET_BIND_SERVICE to the container")
}

// checkPortStart reads net.ipv4.ip_unprivileged_port_start and returns
// it, or -1 when it cannot be read.
func (d *diagnosis) checkPortStart() int {
	b, err := d.host.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err != nil {
		return -1
	}
	start, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return -1
	}
	if start < 1024 {
		d.report.ok("ip_unprivileged_port_start", fmt.Sprintf("net.ipv4.ip_unprivileged_port_start is %d: any process may bind ports from %d up, without the helper", start, start))
	} else {
		d.report.info("ip_unprivileged_port_start", fmt.Sprintf("net.ipv4.ip_unprivileged_port_start is %d: ports below it need the helper", start),
			"the alternative to the helper: sysctl -w net.ipv4.ip_unprivileged_port_start=80, which lets every process bind ports from 80 up")
	}
	return start
}
