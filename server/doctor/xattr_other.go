//go:build !linux

package doctor

import (
	"fmt"
	"runtime"
)

func getxattr(path, attr string) ([]byte, error) {
	return nil, fmt.Errorf("read %s of %s: extended attributes are not read on %s", attr, path, runtime.GOOS)
}
