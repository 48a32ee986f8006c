package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runColdStart starts `portgate serve` n times and times each start up to
// the first HTTP response on -port. Case helper gets the port from the
// helper, case direct binds an unprivileged port itself, and case activate
// runs the server under systemd-socket-activate, which binds the port and
// passes it on. It runs as root and starts the server as -uid.
func runColdStart(args []string) error {
	fs := flag.NewFlagSet("coldstart", flag.ExitOnError)
	kase := fs.String("case", "helper", "helper, direct or activate")
	count := fs.Int("n", 20, "starts to time")
	portgate := fs.String("portgate", "portgate", "portgate binary")
	helperPath := fs.String("helper", "", "portgate-helper path")
	config := fs.String("config", "", "server config")
	port := fs.Int("port", 80, "port of the first request")
	uid := fs.Int("uid", 65534, "uid and gid the server runs as")
	stateDir := fs.String("statedir", "", "the server's RUNTIME_DIRECTORY and STATE_DIRECTORY")
	out := fs.String("out", "", "file for the samples, nanoseconds one a line")
	fs.Parse(args)

	// env after setpriv sets the variables even under
	// systemd-socket-activate, which passes on only some of its own. Each
	// program execs the next, so LISTEN_PID stays the server's pid.
	argv := []string{"setpriv", "--reuid=" + strconv.Itoa(*uid), "--regid=" + strconv.Itoa(*uid), "--clear-groups", "--",
		"env", "RUNTIME_DIRECTORY=" + *stateDir, "STATE_DIRECTORY=" + *stateDir}
	if v, ok := os.LookupEnv("GOMAXPROCS"); ok {
		argv = append(argv, "GOMAXPROCS="+v)
	}
	argv = append(argv, *portgate, "serve", "--config", *config, "--helper", *helperPath)
	switch *kase {
	case "helper", "direct":
	case "activate":
		argv = append([]string{"systemd-socket-activate", "-l", fmt.Sprintf("127.0.0.1:%d", *port), "--fdname=web"}, argv...)
	default:
		return fmt.Errorf("invalid -case %q: want helper, direct or activate", *kase)
	}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	addr := fmt.Sprintf("127.0.0.1:%d", *port)
	var samples []time.Duration
	for i := range *count {
		d, err := startOnce(argv, env, addr)
		if err != nil {
			return fmt.Errorf("case %s, start %d: %w", *kase, i+1, err)
		}
		samples = append(samples, d)
	}
	return writeSamples(*out, samples)
}

// startOnce runs argv, waits for an HTTP response on addr, stops the
// process with SIGTERM and returns the time from start to the response.
func startOnce(argv, env []string, addr string) (time.Duration, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", argv[0], err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	d, err := firstResponse(addr, start, exited)
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
	return d, err
}

// firstResponse sends GET / to addr until a response arrives, for at most
// 10 s, and returns the time since start.
func firstResponse(addr string, start time.Time, exited <-chan error) (time.Duration, error) {
	deadline := start.Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return 0, fmt.Errorf("the server exited before it served a request: %v", err)
		default:
		}
		if status, err := getOnce(addr); err == nil {
			if !strings.Contains(status, " 200 ") {
				return 0, fmt.Errorf("GET %s: %q, want 200", addr, status)
			}
			return time.Since(start), nil
		}
		time.Sleep(200 * time.Microsecond)
	}
	return 0, fmt.Errorf("no response on %s within 10s", addr)
}

// getOnce sends one HTTP/1.0 request and returns the status line.
func getOnce(addr string) (string, error) {
	c, err := net.DialTimeout("tcp4", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("GET / HTTP/1.0\r\nHost: bench\r\n\r\n")); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}
