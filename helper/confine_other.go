//go:build !linux

package helper

import (
	"fmt"
	"runtime"
)

// RestrictFilesystem is not implemented on this OS yet.
func RestrictFilesystem([]string) error {
	return fmt.Errorf("filesystem confinement is not supported on %s yet", runtime.GOOS)
}

// RestrictSyscalls is not implemented on this OS yet.
func RestrictSyscalls() error {
	return fmt.Errorf("system call filtering is not supported on %s yet", runtime.GOOS)
}
