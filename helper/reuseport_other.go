//go:build solaris || aix

package helper

import (
	"fmt"
	"runtime"
)

func setReusePort(int) error {
	return fmt.Errorf("SO_REUSEPORT is not supported on %s yet", runtime.GOOS)
}
