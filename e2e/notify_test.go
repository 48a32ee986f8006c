package e2e

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestNotifyReadyAndGracefulStop runs the server under a NOTIFY_SOCKET the
// test listens on: it must send READY=1 with its pid once its services
// run. SIGTERM then must let an open connection finish within
// shutdown_timeout while new connections are refused.
func TestNotifyReadyAndGracefulStop(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	dir := publicDir(t)
	notifyPath := filepath.Join(dir, "notify")
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notifyPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer notify.Close()
	os.Chmod(notifyPath, 0o777)

	config := "shutdown_timeout = \"3s\"\n" + echoConfig(map[string]int{"a": 700})
	argv := append([]string{"env", "NOTIFY_SOCKET=" + notifyPath}, serveArgv(t, helper, config)...)
	srv, err := startParent(t, ns, argv, nil)
	if err != nil {
		t.Fatal(err)
	}
	notify.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 256)
	n, err := notify.Read(buf)
	if err != nil {
		t.Fatalf("no notification within 5s: %v", err)
	}
	if got, want := string(buf[:n]), fmt.Sprintf("READY=1\nMAINPID=%d", srv.pid); got != want {
		t.Errorf("notification %q, want %q", got, want)
	}

	open, err := ns.dial("tcp", "127.0.0.1:700")
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	open.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(open, "x")
	io.ReadFull(open, make([]byte, 1))
	start := time.Now()
	if err := unix.Kill(srv.pid, unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, err := ns.dial("tcp", "127.0.0.1:700")
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("new connections still accepted 2s after SIGTERM")
		}
	}
	if _, err := io.WriteString(open, "drain"); err != nil {
		t.Fatalf("write during the graceful stop: %v", err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(open, got); err != nil || string(got) != "drain" {
		t.Errorf("echo during the graceful stop: got %q, %v", got, err)
	}
	open.Close()
	waitGone(t, srv.pid)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("stop took %v after the last connection closed early, want well under the 3s shutdown_timeout", took)
	}
	if !strings.Contains(srv.log.String(), `"server stopped"`) {
		t.Error("log lacks \"server stopped\"")
	}
}

// TestNotifyFollowsUpgrades runs the server under a NOTIFY_SOCKET and
// upgrades it twice with SIGUSR2. The service manager must hear of each
// new main process: from the first process about the second, and from the
// second, itself a successor, about the third.
func TestNotifyFollowsUpgrades(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	notifyPath := filepath.Join(publicDir(t), "notify")
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notifyPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer notify.Close()
	os.Chmod(notifyPath, 0o777)
	next := func() string {
		t.Helper()
		notify.SetReadDeadline(time.Now().Add(20 * time.Second))
		buf := make([]byte, 256)
		n, err := notify.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(buf[:n])
	}

	argv := append([]string{"env", "NOTIFY_SOCKET=" + notifyPath}, serveArgv(t, helper, echoConfig(map[string]int{"a": 700}))...)
	srv, err := startParent(t, ns, argv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := next(), fmt.Sprintf("READY=1\nMAINPID=%d", srv.pid); got != want {
		t.Errorf("first notification %q, want %q", got, want)
	}
	pid := srv.pid
	for gen := 2; gen <= 3; gen++ {
		pid = upgradeOnce(t, srv, pid)
		if got, want := next(), fmt.Sprintf("MAINPID=%d\nREADY=1", pid); got != want {
			t.Errorf("generation %d: notification %q, want %q", gen, got, want)
		}
		if got, err := echoVia(ns, "127.0.0.1:700", "up"); err != nil || got != "up" {
			t.Errorf("generation %d: echo: got %q, %v", gen, got, err)
		}
	}
}

// TestGracefulStopDrainsAtOnce holds one open connection on each of three
// services with shutdown_timeout = 2s. SIGTERM must close all three
// listeners at once and end the server within about one timeout, not
// three.
func TestGracefulStopDrainsAtOnce(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	config := "shutdown_timeout = \"2s\"\n" + echoConfig(map[string]int{"a": 700, "b": 701, "c": 702})
	srv := startServer(t, ns, nobodyUID, helper, config)

	// One open connection per service, each echoed once.
	for _, port := range []int{700, 701, 702} {
		c, err := ns.dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "x")
		io.ReadFull(c, make([]byte, 1))
	}

	start := time.Now()
	if err := unix.Kill(srv.pid, unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	for _, port := range []int{700, 701, 702} {
		if c, err := ns.dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			t.Errorf("port %d still accepts 500ms after SIGTERM", port)
		}
	}

	waitGone(t, srv.pid)
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("graceful stop took %s, want about the 2s shutdown_timeout", took)
	}
}
