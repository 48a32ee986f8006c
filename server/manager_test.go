package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func newTestManager(t *testing.T) *Manager {
	t.Helper()
	m := &Manager{Client: &Client{HelperPath: "/nonexistent/portgate-helper"}, Log: zerolog.Nop()}
	m.SetDrainTimeout(5 * time.Second)
	t.Cleanup(func() { m.StopAll() })
	return m
}

func echoService(name string, listen ...string) ServiceConfig {
	return ServiceConfig{Name: name, Kind: "echo", Listen: listen}
}

// echoOnce dials address, sends msg and returns what came back.
func echoOnce(network, address, msg string) (string, error) {
	c, err := net.DialTimeout(network, address, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		return "", err
	}
	buf := make([]byte, len(msg))
	_, err = io.ReadFull(c, buf)
	return string(buf), err
}

func mustListenerAddress(t *testing.T, m *Manager, name string) string {
	t.Helper()
	st, err := m.Get(name)
	if err != nil {
		t.Fatalf("Get(%q): %v", name, err)
	}
	if len(st.Listeners) != 1 {
		t.Fatalf("service %q has %d listeners, want 1", name, len(st.Listeners))
	}
	return st.Listeners[0].Address
}

func TestManagerAddServesAndRemoveFreesPort(t *testing.T) {
	m := newTestManager(t)
	if err := m.Add(context.Background(), echoService("a", "tcp://127.0.0.1:0")); err != nil {
		t.Fatalf("Add: %v", err)
	}
	addr := mustListenerAddress(t, m, "a")
	if got, err := echoOnce("tcp", addr, "ping"); err != nil || got != "ping" {
		t.Fatalf("echo on %s: got %q, %v, want ping", addr, got, err)
	}
	st, _ := m.Get("a")
	if st.State != StateRunning {
		t.Errorf("state after Add: got %s, want running", st.State)
	}
	if err := m.Remove("a"); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := m.Get("a"); !errors.Is(err, ErrServiceNotFound) {
		t.Errorf("Get after Remove: got %v, want ErrServiceNotFound", err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("bind %s after Remove: %v, want the port free", addr, err)
	}
	l.Close()
}

func TestManagerAddAllOrNothing(t *testing.T) {
	m := newTestManager(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	err = m.Add(context.Background(), echoService("b", "tcp://"+free, "tcp://"+busy.Addr().String()))
	if err == nil {
		t.Fatal("Add with a busy address succeeded, want an error")
	}
	if !strings.Contains(err.Error(), busy.Addr().String()) {
		t.Errorf("error %q does not name the busy address %s", err, busy.Addr())
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("error %q does not match EADDRINUSE", err)
	}
	if n := len(m.List()); n != 0 {
		t.Errorf("services after a failed Add: got %d, want 0", n)
	}
	l, err := net.Listen("tcp", free)
	if err != nil {
		t.Fatalf("bind %s after the failed Add: %v, want it free", free, err)
	}
	l.Close()
}

func TestManagerAddDuplicateName(t *testing.T) {
	m := newTestManager(t)
	if err := m.Add(context.Background(), echoService("a", "tcp://127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	err := m.Add(context.Background(), echoService("a", "tcp://127.0.0.1:0"))
	if !errors.Is(err, ErrServiceExists) {
		t.Fatalf("second Add of a: got %v, want ErrServiceExists", err)
	}
	if n := len(m.List()); n != 1 {
		t.Errorf("services: got %d, want 1", n)
	}
}

func TestManagerStopStartStates(t *testing.T) {
	m := newTestManager(t)
	port := freePort(t, "tcp")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if err := m.Add(context.Background(), echoService("a", "tcp://"+addr)); err != nil {
		t.Fatal(err)
	}
	if err := m.Stop("a"); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	st, _ := m.Get("a")
	if st.State != StateStopped {
		t.Errorf("state after Stop: got %s, want stopped", st.State)
	}
	if len(st.Listeners) != 0 {
		t.Errorf("listeners after Stop: got %d, want 0", len(st.Listeners))
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Errorf("dial %s after Stop succeeded, want refused", addr)
	}
	if err := m.Start(context.Background(), "a"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if got, err := echoOnce("tcp", addr, "again"); err != nil || got != "again" {
		t.Errorf("echo after Start: got %q, %v", got, err)
	}
	if err := m.Stop("missing"); !errors.Is(err, ErrServiceNotFound) {
		t.Errorf("Stop(missing): got %v, want ErrServiceNotFound", err)
	}
}

func TestManagerStartFailureKeepsError(t *testing.T) {
	m := newTestManager(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	if err := m.Add(context.Background(), echoService("a", "tcp://"+addr)); err != nil {
		t.Fatal(err)
	}
	if err := m.Stop("a"); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if err := m.Start(context.Background(), "a"); err == nil {
		t.Fatal("Start on a busy port succeeded, want an error")
	}
	st, _ := m.Get("a")
	if st.State != StateFailed {
		t.Errorf("state: got %s, want failed", st.State)
	}
	if !strings.Contains(st.Error, addr) {
		t.Errorf("last error %q does not name %s", st.Error, addr)
	}
}

// TestManagerRemoveDrains holds a connection open while the service is
// removed: new connections are refused at once, and the open one keeps
// being served until it closes.
func TestManagerRemoveDrains(t *testing.T) {
	m := newTestManager(t)
	if err := m.Add(context.Background(), echoService("a", "tcp://127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	addr := mustListenerAddress(t, m, "a")
	open, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	open.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(open, "x")
	io.ReadFull(open, make([]byte, 1))

	removed := make(chan error, 1)
	go func() { removed <- m.Remove("a") }()
	deadline := time.Now().Add(2 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("dial %s still accepted 2s after Remove began", addr)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := io.WriteString(open, "still here"); err != nil {
		t.Fatalf("write on the open connection during the drain: %v", err)
	}
	buf := make([]byte, len("still here"))
	if _, err := io.ReadFull(open, buf); err != nil || string(buf) != "still here" {
		t.Fatalf("echo on the open connection during the drain: got %q, %v", buf, err)
	}
	select {
	case err := <-removed:
		t.Fatalf("Remove returned (%v) while a connection was open", err)
	default:
	}
	open.Close()
	select {
	case err := <-removed:
		if err != nil {
			t.Errorf("Remove: %v, want nil after the connection closed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Remove did not return within 5s of the last connection closing")
	}
}

func TestManagerRemoveDrainDeadline(t *testing.T) {
	m := newTestManager(t)
	sc := echoService("a", "tcp://127.0.0.1:0")
	sc.DrainTimeout = Duration{200 * time.Millisecond}
	if err := m.Add(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	open, err := net.Dial("tcp", mustListenerAddress(t, m, "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	io.WriteString(open, "x")
	open.SetDeadline(time.Now().Add(10 * time.Second))
	io.ReadFull(open, make([]byte, 1))

	start := time.Now()
	err = m.Remove("a")
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Remove: got %v, want the drain deadline error", err)
	}
	if took < 200*time.Millisecond || took > 3*time.Second {
		t.Errorf("Remove took %v, want about the 200ms drain timeout", took)
	}
	if _, err := open.Read(make([]byte, 1)); err == nil {
		t.Error("the open connection is still open after the drain deadline")
	}
}

// TestManagerRelistenKeepsSockets adds an address to a running service
// and checks that the socket of the address it kept is the same one.
func TestManagerRelistenKeepsSockets(t *testing.T) {
	m := newTestManager(t)
	a := fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t, "tcp"))
	b := fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t, "tcp"))
	if err := m.Add(context.Background(), echoService("a", a)); err != nil {
		t.Fatal(err)
	}
	before := m.services["a"].sockets[0].Listener
	if err := m.Update(context.Background(), echoService("a", a, b)); err != nil {
		t.Fatalf("Update: %v", err)
	}
	s := m.services["a"]
	if len(s.sockets) != 2 {
		t.Fatalf("sockets after adding an address: got %d, want 2", len(s.sockets))
	}
	if s.sockets[0].Listener != before {
		t.Error("the socket of the kept address was replaced, want it kept")
	}
	for _, u := range []string{a, b} {
		addr := strings.TrimPrefix(u, "tcp://")
		if got, err := echoOnce("tcp", addr, "k"); err != nil || got != "k" {
			t.Errorf("echo on %s after Update: got %q, %v", addr, got, err)
		}
	}
	if err := m.Update(context.Background(), echoService("a", b)); err != nil {
		t.Fatalf("Update dropping %s: %v", a, err)
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(a, "tcp://"), time.Second); err == nil {
		t.Errorf("dial %s after dropping it succeeded, want refused", a)
	}
}

// TestManagerRelistenWildcardSpecific changes a listener between the
// wildcard and a specific address on the same port, both ways, for IPv4
// and IPv6. Each change must succeed and the service must serve on the
// new address.
func TestManagerRelistenWildcardSpecific(t *testing.T) {
	m := newTestManager(t)
	port := freePort(t, "tcp")
	steps := []struct {
		listen string
		dial   string
	}{
		{fmt.Sprintf("tcp4://0.0.0.0:%d", port), fmt.Sprintf("127.0.0.1:%d", port)},
		{fmt.Sprintf("tcp4://127.0.0.1:%d", port), fmt.Sprintf("127.0.0.1:%d", port)},
		{fmt.Sprintf("tcp4://0.0.0.0:%d", port), fmt.Sprintf("127.0.0.1:%d", port)},
		{fmt.Sprintf("tcp6://[::]:%d", port), fmt.Sprintf("[::1]:%d", port)},
		{fmt.Sprintf("tcp6://[::1]:%d", port), fmt.Sprintf("[::1]:%d", port)},
	}
	if err := m.Add(context.Background(), echoService("w", steps[0].listen)); err != nil {
		t.Fatal(err)
	}
	for _, step := range steps[1:] {
		if err := m.Update(context.Background(), echoService("w", step.listen)); err != nil {
			t.Fatalf("change to %s: %v", step.listen, err)
		}
		st, _ := m.Get("w")
		if st.State != StateRunning || len(st.Listeners) != 1 {
			t.Fatalf("after change to %s: state %s with %d listeners, want running with 1", step.listen, st.State, len(st.Listeners))
		}
		if got := st.Listeners[0].Endpoint; got != step.listen {
			t.Errorf("listener endpoint: got %s, want %s", got, step.listen)
		}
		if got, err := echoOnce("tcp", step.dial, "w"); err != nil || got != "w" {
			t.Errorf("echo on %s after change to %s: got %q, %v", step.dial, step.listen, got, err)
		}
	}
}

// TestManagerRelistenRejectedKeepsOld asks for an address that another
// socket holds: the change fails as a whole and the old listener serves.
func TestManagerRelistenRejectedKeepsOld(t *testing.T) {
	m := newTestManager(t)
	port := freePort(t, "tcp")
	old := fmt.Sprintf("tcp4://0.0.0.0:%d", port)
	if err := m.Add(context.Background(), echoService("w", old)); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	err = m.Update(context.Background(), echoService("w", "tcp4://"+busy.Addr().String()))
	if err == nil {
		t.Fatal("change to a busy address succeeded, want an error")
	}
	st, _ := m.Get("w")
	if st.State != StateRunning || len(st.Listeners) != 1 || st.Listeners[0].Endpoint != old {
		t.Fatalf("after the rejected change: %+v, want running on %s", st, old)
	}
	if got, err := echoOnce("tcp", fmt.Sprintf("127.0.0.1:%d", port), "o"); err != nil || got != "o" {
		t.Errorf("echo on the old address: got %q, %v", got, err)
	}
}

// TestManagerRelistenOverlapRestoresOld changes 0.0.0.0:P to 127.0.0.2:P
// while another socket holds 127.0.0.2:P. The old socket is released for
// the bind, the bind fails, and the old address is bound again.
func TestManagerRelistenOverlapRestoresOld(t *testing.T) {
	m := newTestManager(t)
	port := freePort(t, "tcp")
	old := fmt.Sprintf("tcp4://127.0.0.1:%d", port)
	if err := m.Add(context.Background(), echoService("w", old)); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", fmt.Sprintf("127.0.0.2:%d", port))
	if err != nil {
		t.Skipf("127.0.0.2 is not usable here: %v", err)
	}
	defer busy.Close()
	// The wildcard overlaps both the old address and the busy one.
	err = m.Update(context.Background(), echoService("w", fmt.Sprintf("tcp4://0.0.0.0:%d", port)))
	if err == nil {
		t.Fatal("change to a wildcard that another socket blocks succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "bound again and keep serving") {
		t.Errorf("error %q does not say the old address serves again", err)
	}
	st, _ := m.Get("w")
	if st.State != StateRunning || len(st.Listeners) != 1 || st.Listeners[0].Endpoint != old {
		t.Fatalf("after the failed change: %+v, want running on %s", st, old)
	}
	if got, err := echoOnce("tcp", fmt.Sprintf("127.0.0.1:%d", port), "r"); err != nil || got != "r" {
		t.Errorf("echo on the old address: got %q, %v", got, err)
	}
}

func TestManagerUpdateSettingsRestarts(t *testing.T) {
	m := newTestManager(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	if err := m.Add(context.Background(), echoService("a", "tcp://"+addr)); err != nil {
		t.Fatal(err)
	}
	sc := echoService("a", "tcp://"+addr)
	sc.DrainTimeout = Duration{time.Second}
	if err := m.Update(context.Background(), sc); err != nil {
		t.Fatalf("Update: %v", err)
	}
	st, _ := m.Get("a")
	if st.Config.DrainTimeout.Duration != time.Second || st.State != StateRunning {
		t.Errorf("after Update: %+v, want running with drain_timeout 1s", st)
	}
	bad := ServiceConfig{Name: "a", Kind: "http", Listen: []string{"tcp://" + addr}, Root: "/nonexistent/www"}
	if err := m.Update(context.Background(), bad); err == nil {
		t.Fatal("Update to a missing root succeeded, want an error")
	}
	st, _ = m.Get("a")
	if st.Config.Kind != "echo" || st.State != StateRunning {
		t.Errorf("after the failed Update: kind %s state %s, want echo running", st.Config.Kind, st.State)
	}
	if got, err := echoOnce("tcp", addr, "u"); err != nil || got != "u" {
		t.Errorf("echo after the failed Update: got %q, %v", got, err)
	}
}
