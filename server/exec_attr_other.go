//go:build !linux

package server

import "syscall"

// childProcAttr puts an exec child in its own process group.
// TODO: a child outlives a server killed with SIGKILL here, because only
// Linux has a parent-death signal.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
