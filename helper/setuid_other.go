//go:build !linux

package helper

import (
	"fmt"
	"os"
	"runtime"
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

// refuseSetuidOrRoot also returns an error when the helper runs as root:
// on these systems it cannot reduce root's privileges to the bind right
// alone, so it must start as an account that holds only that right.
func refuseSetuidOrRoot() error {
	if err := refuseSetuid(); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		return fmt.Errorf("portgate-helper runs as root, whose privileges it cannot reduce to the bind right on %s: start it as the service account, granted the right as portgate doctor shows", runtime.GOOS)
	}
	return nil
}
