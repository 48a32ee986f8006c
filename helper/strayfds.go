package helper

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// CloseStrayDescriptors closes every descriptor above standard error that
// the helper inherited by accident and returns their numbers. keep names
// the one it was given on purpose (the client socket in child mode, or -1).
//
// A descriptor that survived exec without close-on-exec can only have come
// from the parent; the Go runtime opens all of its own close-on-exec, so
// those are left alone. Call it first thing, before the runtime has reason
// to open more.
func CloseStrayDescriptors(keep int) []int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		ents, err = os.ReadDir("/dev/fd")
		if err != nil {
			return nil
		}
	}
	var closed []int
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 || fd == keep {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			continue
		}
		unix.Close(fd)
		closed = append(closed, fd)
	}
	return closed
}
