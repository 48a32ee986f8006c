package helper

import (
	"os"
	"os/user"
	"strconv"
)

// currentAccount returns the name of the helper's account, or its uid when
// the name is unknown.
func currentAccount() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}
