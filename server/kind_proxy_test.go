package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// halfCloseBackend reads everything a client sends until the client's
// half-close, then replies with the byte count and the data, and closes.
func halfCloseBackend(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				data, _ := io.ReadAll(c)
				fmt.Fprintf(c, "%d\n", len(data))
				c.Write(data)
			}()
		}
	}()
	return l.Addr().String()
}

func startProxy(t *testing.T, backend string) (*Manager, string) {
	t.Helper()
	m := newTestManager(t)
	sc := ServiceConfig{Name: "p", Kind: "proxy", Listen: []string{"tcp://127.0.0.1:0"}, Backend: backend}
	if err := m.Add(context.Background(), sc); err != nil {
		t.Fatalf("Add proxy: %v", err)
	}
	return m, mustListenerAddress(t, m, "p")
}

func TestProxyHalfCloseBothWays(t *testing.T) {
	_, addr := startProxy(t, halfCloseBackend(t))
	payload := make([]byte, 1<<20)
	rand.Read(payload)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(payload); err != nil {
		t.Fatalf("write through the proxy: %v", err)
	}
	// The backend replies only after it has seen the end of the stream,
	// so the reply proves the half-close reached it.
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	reply, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read through the proxy after the half-close: %v", err)
	}
	head, body, _ := bytes.Cut(reply, []byte("\n"))
	if got, want := string(head), fmt.Sprint(len(payload)); got != want {
		t.Errorf("backend saw %s bytes, want %s", got, want)
	}
	if !bytes.Equal(body, payload) {
		t.Errorf("data back through the proxy: %d bytes, not equal to the %d sent", len(body), len(payload))
	}
}

func TestProxyBackendUnreachable(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	_, addr := startProxy(t, dead)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Errorf("read %d bytes from a proxy whose backend is down, want the connection closed", n)
	}
}

func TestProxyConfigChecks(t *testing.T) {
	cases := []struct {
		name string
		sc   ServiceConfig
		want string
	}{
		{"no backend", ServiceConfig{Name: "p", Kind: "proxy", Listen: []string{"tcp://:80"}}, "kind proxy needs a backend"},
		{"bad backend", ServiceConfig{Name: "p", Kind: "proxy", Listen: []string{"tcp://:80"}, Backend: "localhost"}, `backend "localhost": want HOST:PORT`},
		{"backend on echo", ServiceConfig{Name: "e", Kind: "echo", Listen: []string{"tcp://:7"}, Backend: "127.0.0.1:1"}, "backend is a setting of kind proxy, not echo"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.sc.check()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("check: got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	m := newTestManager(t)
	err := m.Add(context.Background(), ServiceConfig{Name: "p", Kind: "proxy", Listen: []string{"udp://127.0.0.1:0"}, Backend: "127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "kind proxy relays TCP only") {
		t.Errorf("Add a UDP proxy: got %v, want a TCP-only error", err)
	}
}

// TestProxyRemoveDrains keeps a relayed connection open while the proxy is
// removed with a short drain timeout: the connection is cut at the
// deadline.
func TestProxyRemoveDrains(t *testing.T) {
	backend := halfCloseBackend(t)
	m := newTestManager(t)
	sc := ServiceConfig{Name: "p", Kind: "proxy", Listen: []string{"tcp://127.0.0.1:0"}, Backend: backend, DrainTimeout: Duration{300 * time.Millisecond}}
	if err := m.Add(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", mustListenerAddress(t, m, "p"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("pending"))
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if err := m.Remove("p"); err == nil {
		t.Error("Remove with an open relayed connection returned nil, want the drain deadline error")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Remove took %v, want about the 300ms drain timeout", took)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c); err != nil && !strings.Contains(err.Error(), "reset") {
		t.Errorf("read after the drain deadline: %v, want EOF or reset", err)
	}
}
