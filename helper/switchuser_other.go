//go:build !linux

package helper

import (
	"fmt"
	"runtime"
)

// SwitchUser is not implemented on this OS yet.
func SwitchUser(uid, gid int) error {
	return fmt.Errorf("portgate-helper: switching user while keeping the bind right is not supported on %s yet", runtime.GOOS)
}
