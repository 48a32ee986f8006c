package server

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// listenFDsStart is the first descriptor of the socket activation
// convention: sockets sit at 3, 4, ... 3+LISTEN_FDS-1.
const listenFDsStart = 3

// maxListenFDs bounds LISTEN_FDS, so that a bad value cannot make the
// server walk millions of descriptor numbers.
const maxListenFDs = 1024

// listenEnv is what the socket activation variables declare.
type listenEnv struct {
	// PID is LISTEN_PID, or 0 when unset or invalid.
	PID   int
	Count int
	Names []string
}

// takeListenEnv reads LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES and removes
// them from the environment, so that no program the server starts later
// inherits them. It reports whether the variables are meant for this
// process, and it never touches a descriptor.
func takeListenEnv() (listenEnv, bool, error) {
	pidText, hasPID := os.LookupEnv("LISTEN_PID")
	fdsText, hasFDs := os.LookupEnv("LISTEN_FDS")
	namesText, hasNames := os.LookupEnv("LISTEN_FDNAMES")
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")

	var env listenEnv
	if !hasFDs {
		return env, false, nil
	}
	env.PID, _ = strconv.Atoi(pidText)
	if !hasPID || env.PID != os.Getpid() {
		// The sockets, if any, belong to another process.
		return env, false, nil
	}
	n, err := strconv.Atoi(fdsText)
	if err != nil || n < 0 || n > maxListenFDs {
		return env, false, fmt.Errorf("LISTEN_FDS=%q is not a number between 0 and %d: no socket was inherited", fdsText, maxListenFDs)
	}
	env.Count = n
	if hasNames && namesText != "" {
		env.Names = strings.Split(namesText, ":")
	}
	return env, true, nil
}

// name returns the name of the i-th inherited descriptor, or "" when
// LISTEN_FDNAMES has fewer names.
func (e listenEnv) name(i int) string {
	if i < len(e.Names) {
		return e.Names[i]
	}
	return ""
}
