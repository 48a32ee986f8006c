package server

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestTakeListenEnv(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	cases := []struct {
		name      string
		pid, fds  string
		names     string
		wantOurs  bool
		wantCount int
		wantErr   bool
	}{
		{"ours", self, "2", "a:b", true, 2, false},
		{"other pid", "1", "2", "", false, 0, false},
		{"pid unset", "", "2", "", false, 0, false},
		{"count not a number", self, "two", "", false, 0, true},
		{"count too large", self, "100000", "", false, 0, true},
		{"negative count", self, "-1", "", false, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.pid != "" {
				t.Setenv("LISTEN_PID", tc.pid)
			}
			t.Setenv("LISTEN_FDS", tc.fds)
			t.Setenv("LISTEN_FDNAMES", tc.names)
			env, ours, err := takeListenEnv()
			if (err != nil) != tc.wantErr {
				t.Errorf("error %v, want error %t", err, tc.wantErr)
			}
			if ours != tc.wantOurs {
				t.Errorf("ours %t, want %t", ours, tc.wantOurs)
			}
			if ours && env.Count != tc.wantCount {
				t.Errorf("count %d, want %d", env.Count, tc.wantCount)
			}
			for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
				if _, set := os.LookupEnv(v); set {
					t.Errorf("%s still set, want it removed", v)
				}
			}
		})
	}
}

// registryOf builds an Inherited from fresh listeners, named as given.
func registryOf(t *testing.T, names []string, addrs []string) *Inherited {
	t.Helper()
	in := &Inherited{}
	for i, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		in.entries = append(in.entries, &inheritedSocket{fd: 3 + i, name: names[i], sock: Socket{Endpoint: Endpoint{"tcp", l.Addr().String()}, Listener: l}})
	}
	return in
}

func TestInheritedTakeByNameThenAddress(t *testing.T) {
	p1, p2 := freePort(t, "tcp"), freePort(t, "tcp")
	a1 := "127.0.0.1:" + strconv.Itoa(p1)
	a2 := "127.0.0.1:" + strconv.Itoa(p2)
	// Both sockets carry the name "http", which is also the service name:
	// the duplicate keeps both, and each endpoint gets the socket of its
	// own address.
	in := registryOf(t, []string{"http", "http"}, []string{a1, a2})
	ctx := context.Background()
	s2, ok := in.take(ctx, "http", Endpoint{"tcp", a2})
	if !ok || s2.LocalAddr().String() != a2 {
		t.Fatalf("take %s: got %v, %t, want the socket of %s", a2, s2.Listener, ok, a2)
	}
	if s2.Endpoint != (Endpoint{"tcp", a2}) {
		t.Errorf("taken socket endpoint %v, want the requested one", s2.Endpoint)
	}
	if _, ok := in.take(ctx, "http", Endpoint{"tcp", a2}); ok {
		t.Error("the same socket was taken twice, want it taken once")
	}
	s1, ok := in.take(ctx, "other", Endpoint{"tcp", a1})
	if !ok || s1.LocalAddr().String() != a1 {
		t.Errorf("take %s by address: got %v, %t", a1, s1.Listener, ok)
	}
}

func TestInheritedPortZeroNeedsName(t *testing.T) {
	in := registryOf(t, []string{"metrics"}, []string{"127.0.0.1:0"})
	ctx := context.Background()
	if _, ok := in.take(ctx, "web", Endpoint{"tcp", "127.0.0.1:0"}); ok {
		t.Error("port 0 matched another service's socket by address, want no match")
	}
	if _, ok := in.take(ctx, "metrics", Endpoint{"tcp", "127.0.0.1:0"}); !ok {
		t.Error("port 0 did not match the socket named after the service")
	}
}

func TestInheritedWrongTransportOrFamily(t *testing.T) {
	p := freePort(t, "tcp")
	addr := "127.0.0.1:" + strconv.Itoa(p)
	in := registryOf(t, []string{""}, []string{addr})
	ctx := context.Background()
	for _, e := range []Endpoint{{"udp", addr}, {"tcp6", "[::1]:" + strconv.Itoa(p)}, {"tcp", "127.0.0.2:" + strconv.Itoa(p)}} {
		if _, ok := in.take(ctx, "x", e); ok {
			t.Errorf("%v took the socket of tcp %s, want no match", e, addr)
		}
	}
}

func TestInheritedReleaseClosesUnused(t *testing.T) {
	p1, p2 := freePort(t, "tcp"), freePort(t, "tcp")
	a1 := "127.0.0.1:" + strconv.Itoa(p1)
	a2 := "127.0.0.1:" + strconv.Itoa(p2)
	in := registryOf(t, []string{"a", "b"}, []string{a1, a2})
	s, ok := in.take(context.Background(), "a", Endpoint{"tcp", a1})
	if !ok {
		t.Fatal("take a failed")
	}
	in.Release(zerolog.Nop())
	if c, err := net.Dial("tcp", a2); err == nil {
		c.Close()
		t.Errorf("dial %s after Release succeeded, want refused", a2)
	}
	if c, err := net.Dial("tcp", a1); err != nil {
		t.Errorf("dial the taken %s after Release: %v", a1, err)
	} else {
		c.Close()
	}
	if _, ok := in.take(context.Background(), "b", Endpoint{"tcp", a2}); ok {
		t.Error("take after Release succeeded, want nothing available")
	}
	s.Close()
}

func TestInheritedNilHoldsNothing(t *testing.T) {
	var in *Inherited
	if _, ok := in.take(context.Background(), "a", Endpoint{"tcp", "127.0.0.1:80"}); ok {
		t.Error("a nil registry returned a socket")
	}
	in.Release(zerolog.Nop())
}

// TestManagerInheritedTakenOnce gives two services the address of one
// inherited socket: the first gets it, the second must not get a second
// wrapper of it and fails to bind the address, naming it.
func TestManagerInheritedTakenOnce(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t, "tcp"))
	in := registryOf(t, []string{"metrics"}, []string{addr})
	m := newTestManager(t)
	m.Inherited = in
	if err := m.Add(context.Background(), echoService("metrics", "tcp://"+addr)); err != nil {
		t.Fatalf("Add metrics: %v", err)
	}
	st, _ := m.Get("metrics")
	if !st.Listeners[0].Inherited {
		t.Error("metrics did not get the inherited socket")
	}
	err := m.Add(context.Background(), echoService("metrics2", "tcp://"+addr))
	if err == nil {
		t.Fatal("a second service got the address of a taken inherited socket")
	}
	if !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("error %q, want it to name %s and say it is in use", err, addr)
	}
	if err := m.Remove("metrics"); err != nil {
		t.Fatal(err)
	}
	if _, ok := in.take(context.Background(), "metrics", Endpoint{"tcp", addr}); ok {
		t.Error("the inherited socket was available again after its holder closed it, want it gone")
	}
}
