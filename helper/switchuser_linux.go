package helper

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// SwitchUser changes a helper started as root to uid and gid, keeping its
// permitted capabilities across the change (PR_SET_KEEPCAPS) so that
// DropPrivileges, called next, can keep CAP_NET_BIND_SERVICE alone. The
// supplementary groups are reduced to gid.
func SwitchUser(uid, gid int) error {
	if uid <= 0 || gid < 0 {
		return fmt.Errorf("switch user: uid %d gid %d: name an unprivileged account", uid, gid)
	}
	if _, _, errno := syscall.AllThreadsSyscall6(unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1, 0, 0, 0, 0); errno != 0 {
		return fmt.Errorf("switch user: set PR_SET_KEEPCAPS: %w", errno)
	}
	if err := syscall.Setgroups([]int{gid}); err != nil {
		return fmt.Errorf("switch user: setgroups %d: %w", gid, err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("switch user: setgid %d: %w", gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("switch user: setuid %d: %w", uid, err)
	}
	if _, _, errno := syscall.AllThreadsSyscall6(unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 0, 0, 0, 0, 0); errno != 0 {
		return fmt.Errorf("switch user: clear PR_SET_KEEPCAPS: %w", errno)
	}
	return nil
}
