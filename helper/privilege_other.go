//go:build !linux && !darwin && !freebsd && !solaris && !aix

package helper

import (
	"fmt"
	"runtime"
)

// DropPrivileges is not implemented on this OS yet.
func DropPrivileges() (*Mechanism, error) {
	return nil, fmt.Errorf("portgate-helper: dropping privileges is not supported on %s yet", runtime.GOOS)
}
