package server

import (
	"fmt"
	"os/user"
	"strconv"
	"syscall"
)

// SwitchUser changes the process's groups, gid and uid to those of the
// account name, in that order, and checks that root cannot be regained.
// On Linux the calls apply to every thread and clear every capability.
func SwitchUser(name string) error {
	u, err := user.Lookup(name)
	if _, isNumber := strconv.Atoi(name); err != nil && isNumber == nil {
		u, err = user.LookupId(name)
	}
	if err != nil {
		return fmt.Errorf("switch to user %q: %w: name an account in /etc/passwd", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("switch to user %q: non-numeric uid %q or gid %q", name, u.Uid, u.Gid)
	}
	if uid == 0 {
		return fmt.Errorf("switch to user %q: it is root (uid 0); name an unprivileged account", name)
	}
	groupIDs, err := u.GroupIds()
	if err != nil {
		return fmt.Errorf("switch to user %q: list groups: %w", name, err)
	}
	gids := []int{gid}
	for _, g := range groupIDs {
		if n, err := strconv.Atoi(g); err == nil && n != gid {
			gids = append(gids, n)
		}
	}
	if err := syscall.Setgroups(gids); err != nil {
		return fmt.Errorf("switch to user %q: setgroups: %w", name, err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("switch to user %q: setgid %d: %w", name, gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("switch to user %q: setuid %d: %w", name, uid, err)
	}
	if syscall.Setuid(0) == nil {
		return fmt.Errorf("switch to user %q: the process could regain uid 0", name)
	}
	return nil
}
