package server

import "syscall"

// childProcAttr puts an exec child in its own process group and has the
// kernel send it SIGTERM when the server dies, even by SIGKILL, so that
// no child keeps the service's sockets after the server is gone. The
// setting survives the shim's exec of the command.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
