package helper

import (
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// landlockAttr is the part of struct landlock_ruleset_attr that the
// helper sets: the filesystem rights the ruleset handles. The kernel
// accepts this shorter form from every ABI version.
type landlockAttr struct {
	handledAccessFS uint64
}

type landlockPathBeneath struct {
	allowedAccess uint64
	parentFD      int32
}

// Filesystem rights of Landlock ABI 1 (Linux 5.13); later ABIs add more,
// which the helper adds when the kernel reports them.
const (
	landlockReadFile = unix.LANDLOCK_ACCESS_FS_READ_FILE
	landlockReadDir  = unix.LANDLOCK_ACCESS_FS_READ_DIR
	landlockABI1     = (1 << 13) - 1
	landlockRefer    = unix.LANDLOCK_ACCESS_FS_REFER     // ABI 2
	landlockTruncate = unix.LANDLOCK_ACCESS_FS_TRUNCATE  // ABI 3
	landlockIoctlDev = unix.LANDLOCK_ACCESS_FS_IOCTL_DEV // ABI 5
)

// ErrLandlockUnavailable means the kernel has no Landlock.
var ErrLandlockUnavailable = errors.New("this kernel does not offer Landlock")

// RestrictFilesystem confines every thread of the process with Landlock:
// no filesystem access at all, except reading the paths in readable (files
// or directories, with what lies beneath). Sockets the helper creates are
// not affected. It needs no_new_privs, which DropPrivileges sets.
func RestrictFilesystem(readable []string) error {
	abi, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		return ErrLandlockUnavailable
	}
	handled := uint64(landlockABI1)
	if abi >= 2 {
		handled |= landlockRefer
	}
	if abi >= 3 {
		handled |= landlockTruncate
	}
	if abi >= 5 {
		handled |= landlockIoctlDev
	}
	attr := landlockAttr{handledAccessFS: handled}
	fd, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if errno != 0 {
		return fmt.Errorf("create Landlock ruleset: %w", errno)
	}
	defer unix.Close(int(fd))
	for _, p := range readable {
		if err := addReadRule(int(fd), p); err != nil {
			return err
		}
	}
	if _, _, errno := syscall.AllThreadsSyscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); errno != 0 {
		return fmt.Errorf("apply Landlock ruleset: %w", errno)
	}
	return nil
}

func addReadRule(ruleset int, path string) error {
	f, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("add a Landlock rule for %s: %w", path, err)
	}
	defer unix.Close(f)
	var st unix.Stat_t
	if err := unix.Fstat(f, &st); err != nil {
		return fmt.Errorf("add a Landlock rule for %s: %w", path, err)
	}
	access := uint64(landlockReadFile)
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		access |= landlockReadDir
	}
	rule := landlockPathBeneath{allowedAccess: access, parentFD: int32(f)}
	if _, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(ruleset), unix.LANDLOCK_RULE_PATH_BENEATH, uintptr(unsafe.Pointer(&rule)), 0, 0, 0); errno != 0 {
		return fmt.Errorf("add a Landlock rule for %s: %w", path, errno)
	}
	return nil
}
