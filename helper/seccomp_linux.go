package helper

import (
	"fmt"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
)

// allowedSyscalls are the system calls the helper makes once it serves:
// the Go runtime's own (memory, threads, signals, timers, the network
// poller), the socket calls of binding and passing descriptors, and the
// few file calls of a policy reload, which Landlock restricts further.
// Names missing on an architecture are skipped.
var allowedSyscalls = []string{
	// Go runtime
	"brk", "mmap", "munmap", "mprotect", "madvise", "mremap", "futex",
	"clone", "clone3", "exit", "exit_group", "gettid", "getpid", "tgkill",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
	"sched_yield", "sched_getaffinity", "nanosleep", "clock_gettime",
	"clock_nanosleep", "gettimeofday", "getrandom", "rseq", "restart_syscall",
	"set_robust_list", "prlimit64", "membarrier", "uname",
	"getuid", "geteuid", "getgid", "getegid", "getppid", "getgroups",
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
	"eventfd2", "pipe2",
	// descriptors and sockets
	"read", "write", "close", "fcntl", "dup", "dup3",
	"socket", "setsockopt", "getsockopt", "bind", "listen", "getsockname",
	"getpeername", "accept4", "recvmsg", "sendmsg", "recvfrom", "sendto",
	"shutdown",
	// policy reload and peer executables; Landlock limits what they reach
	"openat", "newfstatat", "fstat", "statx", "readlinkat", "lseek", "pread64",
	"getdents64",
	// capability and status reads
	"capget", "prctl",
}

// ErrSeccompUnavailable means the kernel has no seccomp filter support.
var ErrSeccompUnavailable = fmt.Errorf("seccomp filters are not available in this kernel")

// RestrictSyscalls installs a seccomp filter on every thread that lets
// through allowedSyscalls and fails every other system call with EPERM, so
// that a call the list forgot shows up as an error, not a crash.
func RestrictSyscalls() error {
	if !seccomp.Supported() {
		return ErrSeccompUnavailable
	}
	info, err := arch.GetInfo("")
	if err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	var names []string
	for _, n := range allowedSyscalls {
		if _, ok := info.SyscallNames[n]; ok {
			names = append(names, n)
		}
	}
	filter := seccomp.Filter{
		NoNewPrivs: true,
		Flag:       seccomp.FilterFlagTSync,
		Policy: seccomp.Policy{
			DefaultAction: seccomp.ActionErrno,
			Syscalls:      []seccomp.SyscallGroup{{Names: names, Action: seccomp.ActionAllow}},
		},
	}
	if err := seccomp.LoadFilter(filter); err != nil {
		return fmt.Errorf("install seccomp filter: %w", err)
	}
	return nil
}
