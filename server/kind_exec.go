package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ExecShimCommand is the portgate subcommand that a child of an exec
// service runs first: `portgate listen-exec -- PROGRAM ARGS...`. It sets
// LISTEN_PID to its own pid and execs PROGRAM, which keeps that pid. A Go
// parent cannot set LISTEN_PID itself, because os/exec learns the pid
// only after the exec. A wrapper script that forks before it runs the
// real program runs it through the same command, so that LISTEN_PID names
// the program and not the wrapper.
const ExecShimCommand = "listen-exec"

// Restart backoff of exec children: the delay starts at execBackoffMin,
// doubles after every exit up to execBackoffMax, and starts over once a
// child has run for execStableAfter.
const (
	execBackoffMin  = 100 * time.Millisecond
	execBackoffMax  = 30 * time.Second
	execStableAfter = 10 * time.Second
)

// execRunner runs the service's command as a supervised child, with the
// service's sockets at descriptors 3 and up in the socket activation
// convention, and restarts it with backoff when it exits.
type execRunner struct {
	info  ServiceInfo
	files []*os.File // duplicates of the sockets, passed to every child

	mu       sync.Mutex
	child    *os.Process
	stopping bool
	stop     chan struct{}
	done     chan struct{}
}

func newExec(info ServiceInfo) (Runner, error) {
	if _, err := exec.LookPath(info.Config.Command[0]); err != nil {
		return nil, fmt.Errorf("command %q: %w", info.Config.Command[0], err)
	}
	r := &execRunner{info: info, stop: make(chan struct{}), done: make(chan struct{})}
	for _, s := range info.Sockets {
		f, err := socketFile(s)
		if err != nil {
			r.closeFiles()
			return nil, fmt.Errorf("pass %s to the child: %w", s.Endpoint, err)
		}
		r.files = append(r.files, f)
	}
	return r, nil
}

// socketFile returns a duplicate of the socket's descriptor. The caller
// owns it; the socket keeps its own.
func socketFile(s Socket) (*os.File, error) {
	var v any = s.Listener
	if s.Listener == nil {
		v = s.PacketConn
	}
	fl, ok := v.(interface{ File() (*os.File, error) })
	if !ok {
		return nil, fmt.Errorf("socket of type %T has no descriptor", v)
	}
	return fl.File()
}

func (r *execRunner) Start() error {
	go r.supervise()
	return nil
}

// Serve is not supported: a child receives its sockets when it starts, so
// the Manager restarts an exec service to change its addresses.
func (r *execRunner) Serve(Socket) error {
	return errors.New("kind exec takes its sockets at start: restart the service to change its addresses")
}

func (r *execRunner) supervise() {
	defer close(r.done)
	log := r.info.Log
	backoff := execBackoffMin
	for {
		started := time.Now()
		cmd, err := r.startChild()
		if err != nil {
			log.Error().Err(err).Dur("retry_in", backoff).Msg("exec child failed to start")
		} else {
			log.Info().Int("child_pid", cmd.Process.Pid).Strs("command", r.info.Config.Command).Msg("exec child started")
			pid := cmd.Process.Pid
			if waitExited(pid) {
				r.reapGroup(pid)
			}
			r.mu.Lock()
			r.child = nil
			stopping := r.stopping
			r.mu.Unlock()
			err = cmd.Wait()
			if stopping {
				log.Info().Int("child_pid", cmd.Process.Pid).Str("exit", exitText(err)).Msg("exec child stopped")
				return
			}
			if time.Since(started) >= execStableAfter {
				backoff = execBackoffMin
			}
			log.Warn().Int("child_pid", cmd.Process.Pid).Str("exit", exitText(err)).Dur("ran", time.Since(started)).Dur("restart_in", backoff).Msg("exec child exited")
		}
		select {
		case <-r.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, execBackoffMax)
	}
}

// reapGroup deals with what an exited child left in its process group,
// while the unreaped child still reserves the group's id. On a stop the
// leftovers got SIGTERM with the child and may take until Stop's deadline,
// when Stop kills the group. Otherwise they are killed at once, so that
// none keeps the sockets into the next start. A process that left the
// group is out of reach.
func (r *execRunner) reapGroup(pid int) {
	for {
		left := groupMembers(pid)
		if len(left) == 0 {
			return
		}
		r.mu.Lock()
		stopping := r.stopping
		r.mu.Unlock()
		if !stopping {
			r.info.Log.Warn().Int("child_pid", pid).Ints("pids", left).Msg("exec child left processes in its process group; killing them")
			syscall.Kill(-pid, syscall.SIGKILL)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startChild starts the shim, which execs the command. The child gets
// standard input from /dev/null, the server's standard output and error,
// and the sockets at 3 and up. Descriptors the server opened are
// close-on-exec. Any it inherited without that flag reach the shim, which
// marks them close-on-exec before it execs the command. A service with no
// socket passes LISTEN_FDS=0, and the shim then execs the command without
// any LISTEN_* variable.
func (r *execRunner) startChild() (*exec.Cmd, error) {
	self, err := selfExecutable()
	if err != nil {
		return nil, err
	}
	args := append([]string{ExecShimCommand, "--"}, r.info.Config.Command...)
	cmd := exec.Command(self, args...)
	cmd.Env = childEnv(len(r.files), r.info.Config.Name)
	cmd.ExtraFiles = r.files
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = childProcAttr()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopping {
		return nil, errors.New("service is stopping")
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", strings.Join(r.info.Config.Command, " "), err)
	}
	r.child = cmd.Process
	return cmd, nil
}

// childEnv returns the server's environment without socket activation and
// notification variables, plus LISTEN_FDS and LISTEN_FDNAMES for n
// sockets named after the service. The shim adds LISTEN_PID, or with n = 0
// removes LISTEN_FDS.
func childEnv(n int, name string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "NOTIFY_SOCKET", upgradeNotifyEnv:
			continue
		}
		env = append(env, kv)
	}
	if n == 0 {
		return append(env, "LISTEN_FDS=0")
	}
	names := make([]string, n)
	for i := range names {
		names[i] = name
	}
	return append(env, "LISTEN_FDS="+strconv.Itoa(n), "LISTEN_FDNAMES="+strings.Join(names, ":"))
}

func selfExecutable() (string, error) {
	if runtime.GOOS == "linux" {
		// Still the running binary after a package upgrade replaced the file.
		return "/proc/self/exe", nil
	}
	return os.Executable()
}

// Stop sends SIGTERM to the child and its process group, waits for the
// child to exit until ctx ends, then kills both. It closes the server's
// copies of the sockets last.
func (r *execRunner) Stop(ctx context.Context) error {
	r.mu.Lock()
	if !r.stopping {
		r.stopping = true
		close(r.stop)
	}
	if r.child != nil {
		signalChild(r.child.Pid, syscall.SIGTERM)
	}
	r.mu.Unlock()
	var err error
	select {
	case <-r.done:
	case <-ctx.Done():
		r.mu.Lock()
		if r.child != nil {
			signalChild(r.child.Pid, syscall.SIGKILL)
		}
		r.mu.Unlock()
		<-r.done
		err = ctx.Err()
	}
	r.closeFiles()
	for _, s := range r.info.Sockets {
		s.Close()
	}
	return err
}

// signalChild sends sig to the child and to its process group. The child
// gets it even when it has moved itself to another group.
func signalChild(pid int, sig syscall.Signal) {
	syscall.Kill(pid, sig)
	syscall.Kill(-pid, sig)
}

func (r *execRunner) closeFiles() {
	for _, f := range r.files {
		f.Close()
	}
	r.files = nil
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// RunExecShim is the body of ExecShimCommand: it checks that descriptors 3
// to 3+LISTEN_FDS-1 are sockets, sets LISTEN_PID to this process's pid and
// replaces the process with args[0]. With LISTEN_FDS=0 it removes the
// LISTEN_* variables instead. It returns only on failure.
func RunExecShim(args []string) error {
	if len(args) == 0 {
		return errors.New("listen-exec: no program given: use portgate listen-exec -- PROGRAM [ARGS...]")
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		return fmt.Errorf("listen-exec %q: %w", args[0], err)
	}
	n, err := shimSocketCount()
	if err != nil {
		return fmt.Errorf("listen-exec %s: %w", path, err)
	}
	if err := closeOnExecFrom(listenFDsStart + n); err != nil {
		return fmt.Errorf("listen-exec %s: %w", path, err)
	}
	if n == 0 {
		// No socket to describe, so the program gets no LISTEN_* variable.
		os.Unsetenv("LISTEN_FDS")
		os.Unsetenv("LISTEN_FDNAMES")
		os.Unsetenv("LISTEN_PID")
	} else {
		os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	}
	return fmt.Errorf("listen-exec %s: %w", path, syscall.Exec(path, args, os.Environ()))
}

// shimSocketCount reads LISTEN_FDS and checks that each descriptor it
// promises is an open socket, so that the program never takes another
// kind of file for a listener.
func shimSocketCount() (int, error) {
	text, ok := os.LookupEnv("LISTEN_FDS")
	if !ok {
		return 0, errors.New("LISTEN_FDS is not set, so there is no socket to pass on: run this command only where sockets were passed in the socket activation convention")
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < 0 || n > maxListenFDs {
		return 0, fmt.Errorf("LISTEN_FDS=%q is not a number between 0 and %d", text, maxListenFDs)
	}
	for fd := listenFDsStart; fd < listenFDsStart+n; fd++ {
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil {
			return 0, fmt.Errorf("LISTEN_FDS=%d, but descriptor %d is not open: %w", n, fd, err)
		}
		if st.Mode&syscall.S_IFMT != syscall.S_IFSOCK {
			return 0, fmt.Errorf("LISTEN_FDS=%d, but descriptor %d is not a socket (file mode %#o; if nothing was passed there, the Go runtime put a file of its own there): pass a socket at each of descriptors %d to %d", n, fd, st.Mode&syscall.S_IFMT, listenFDsStart, listenFDsStart+n-1)
		}
	}
	return n, nil
}

// closeOnExecFrom marks every descriptor from first on close-on-exec, so
// that descriptors the server itself inherited without the flag do not
// reach the program. Descriptors the shim's own runtime opened have the
// flag already.
func closeOnExecFrom(first int) error {
	dir := "/dev/fd"
	if runtime.GOOS == "linux" {
		dir = "/proc/self/fd"
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("list open descriptors: %w", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("list open descriptors: %w", err)
	}
	for _, name := range names {
		if fd, err := strconv.Atoi(name); err == nil && fd >= first {
			syscall.CloseOnExec(fd)
		}
	}
	return nil
}
