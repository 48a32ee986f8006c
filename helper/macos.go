package helper

import (
	"strconv"
	"strings"
)

// MacOSWildcardBindFree reports whether macOS release version (such as
// "10.14.6" or "14.2") lets any user bind privileged ports on wildcard
// addresses, as every release since 10.14 does. An unparsable version
// counts as older.
func MacOSWildcardBindFree(version string) bool {
	parts := strings.SplitN(strings.TrimSpace(version), ".", 3)
	major, err := strconv.Atoi(parts[0])
	if err != nil {
		return false
	}
	if major != 10 {
		return major > 10
	}
	if len(parts) < 2 {
		return false
	}
	minor, err := strconv.Atoi(parts[1])
	return err == nil && minor >= 14
}
