// Command activated is a socket-activation-aware test program for the exec
// kind. It takes the sockets passed in the LISTEN_FDS convention and
// answers every TCP connection with a JSON report of what it inherited,
// then closes the connection.
//
//	activated [-exit-after DURATION] [-spawn] [-report PATH] [-allow-none] [-leave-group]
//
// With -report it also writes the report to PATH, and with -allow-none it
// keeps running when it inherited no socket, instead of exiting with
// status 1. With -exit-after it exits with status 3 after that long, so that tests
// can watch the server restart it. With -spawn it first starts itself
// with -grandchild and the environment it was given, LISTEN_* included,
// as a careless program would; the grandchild reports what it would adopt
// and exits, and its report becomes part of this one.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// report is what the program saw at start.
type report struct {
	PID         int      `json:"pid"`
	ListenPID   string   `json:"listen_pid"`
	ListenFDs   string   `json:"listen_fds"`
	ListenNames string   `json:"listen_fdnames"`
	Addresses   []string `json:"addresses"`
	// OpenFDs lists the descriptors open when main started, before the
	// program opened any of its own, with what each points to.
	OpenFDs map[int]string `json:"open_fds"`
	// Grandchild is the report of the program started with -spawn.
	Grandchild *report `json:"grandchild,omitempty"`
	// Adopted counts the sockets a -grandchild would take.
	Adopted int `json:"adopted"`
	// Variables lists every LISTEN_* variable the program was started
	// with, set or empty.
	Variables []string `json:"variables"`
}

func main() {
	// Read the descriptors first: nothing of this program is open yet.
	r := report{PID: os.Getpid(), OpenFDs: openFDs()}
	exitAfter := flag.Duration("exit-after", 0, "exit with status 3 after this long")
	spawn := flag.Bool("spawn", false, "start a -grandchild with this environment first")
	grandchild := flag.Bool("grandchild", false, "print what would be adopted and exit")
	reportPath := flag.String("report", "", "also write the report to this file")
	allowNone := flag.Bool("allow-none", false, "keep running without any inherited socket")
	leaveGroup := flag.Bool("leave-group", false, "move to the parent's process group and ignore SIGTERM")
	flag.Parse()
	if *leaveGroup {
		pgid, err := unix.Getpgid(os.Getppid())
		if err == nil {
			err = unix.Setpgid(0, pgid)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "activated: setpgid: %v\n", err)
			os.Exit(1)
		}
		signal.Ignore(syscall.SIGTERM)
	}
	r.ListenPID = os.Getenv("LISTEN_PID")
	r.ListenFDs = os.Getenv("LISTEN_FDS")
	r.ListenNames = os.Getenv("LISTEN_FDNAMES")
	r.Variables = listenVariables()
	if *grandchild {
		if r.ListenPID == strconv.Itoa(r.PID) {
			r.Adopted, _ = strconv.Atoi(r.ListenFDs)
		}
		json.NewEncoder(os.Stdout).Encode(r)
		return
	}

	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")

	n, _ := strconv.Atoi(r.ListenFDs)
	if r.ListenPID != strconv.Itoa(os.Getpid()) {
		n = 0
	}
	var listeners []net.Listener
	for fd := 3; fd < 3+n; fd++ {
		f := os.NewFile(uintptr(fd), "listen-"+strconv.Itoa(fd))
		l, err := net.FileListener(f)
		// The listener owns a close-on-exec duplicate; the original would
		// leak into every program started later.
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "activated: descriptor %d: %v\n", fd, err)
			os.Exit(1)
		}
		listeners = append(listeners, l)
		r.Addresses = append(r.Addresses, l.Addr().String())
	}
	if len(listeners) == 0 && !*allowNone {
		fmt.Fprintln(os.Stderr, "activated: no socket inherited")
		os.Exit(1)
	}
	if *spawn {
		// The variables are gone from this process; the grandchild gets
		// them back, as from a program that copied its environment early.
		r.Grandchild = runGrandchild(r)
	}
	out, _ := json.Marshal(r)
	if *reportPath != "" {
		if err := writeReport(*reportPath, out); err != nil {
			fmt.Fprintf(os.Stderr, "activated: %v\n", err)
			os.Exit(1)
		}
	}
	for _, l := range listeners {
		go serve(l, out)
	}
	if *exitAfter > 0 {
		time.Sleep(*exitAfter)
		os.Exit(3)
	}
	// Sleep rather than block: with no listener, an empty select would
	// be a deadlock to the runtime.
	for {
		time.Sleep(time.Hour)
	}
}

func runGrandchild(r report) *report {
	self, err := os.Executable()
	if err != nil {
		return nil
	}
	cmd := exec.Command(self, "-grandchild")
	cmd.Env = append(os.Environ(), r.Variables...)
	out, err := cmd.Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "activated: grandchild: %v\n", err)
		return nil
	}
	var g report
	if json.Unmarshal(out, &g) != nil {
		return nil
	}
	return &g
}

// listenVariables returns the LISTEN_* entries of the environment.
func listenVariables() []string {
	var vars []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "LISTEN_") {
			vars = append(vars, kv)
		}
	}
	return vars
}

// writeReport writes data to path through a temporary file, so that a
// reader never sees half a report.
func writeReport(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func serve(l net.Listener, out []byte) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		c.Write(append(out, '\n'))
		c.Close()
	}
}

// openFDs lists the open descriptors, without the one that reads the list.
func openFDs() map[int]string {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	fds := map[int]string{}
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil || uintptr(fd) == d.Fd() {
			continue
		}
		fds[fd], _ = os.Readlink("/proc/self/fd/" + name)
	}
	return fds
}
