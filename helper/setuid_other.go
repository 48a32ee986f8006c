//go:build !linux

package helper

import (
	"fmt"
	"os"
)

// refuseSetuid returns an error when the helper runs setuid or setgid.
func refuseSetuid() error {
	if os.Getuid() != os.Geteuid() || os.Getgid() != os.Getegid() {
		exe, _ := os.Executable()
		return fmt.Errorf("real and effective ids differ (uid %d, euid %d, gid %d, egid %d): portgate-helper must not be setuid or setgid: run chmod u-s,g-s %s and grant the bind right as portgate doctor shows instead",
			os.Getuid(), os.Geteuid(), os.Getgid(), os.Getegid(), exe)
	}
	return nil
}
