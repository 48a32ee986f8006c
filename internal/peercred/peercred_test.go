//go:build linux || darwin || freebsd || solaris || aix

package peercred

import (
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
)

// unixPair returns both ends of a connected Unix stream socket pair.
func unixPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	dir := t.TempDir()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: dir + "/peercred.sock", Net: "unix"})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	client, err := net.DialUnix("unix", nil, ln.Addr().(*net.UnixAddr))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	server, err := ln.AcceptUnix()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	t.Cleanup(func() { server.Close() })
	return client, server
}

func TestOfConnectedPeer(t *testing.T) {
	client, server := unixPair(t)
	for _, end := range []struct {
		name string
		conn *net.UnixConn
	}{{"accepted end", server}, {"dialing end", client}} {
		t.Run(end.name, func(t *testing.T) {
			cred, err := Of(end.conn)
			if err != nil {
				t.Fatalf("Of: %v", err)
			}
			if want := uint32(os.Geteuid()); cred.UID != want {
				t.Errorf("UID: got %d, want %d", cred.UID, want)
			}
			if want := uint32(os.Getegid()); cred.GID != want {
				t.Errorf("GID: got %d, want %d", cred.GID, want)
			}
			// Linux always reports the pid. Kernels that may not report it
			// leave it 0.
			want := int32(os.Getpid())
			if runtime.GOOS != "linux" && cred.PID == 0 {
				want = 0
			}
			if cred.PID != want {
				t.Errorf("PID: got %d, want %d", cred.PID, want)
			}
		})
	}
}

func TestReadRejectsPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("pipe: %v", err)
	}
	defer r.Close()
	defer w.Close()
	cred, err := Read(int(r.Fd()))
	if err == nil {
		t.Fatalf("Read(pipe): got %+v, want an error", cred)
	}
	if !strings.Contains(err.Error(), "("+call+")") {
		t.Errorf("error: got %q, want it to name %s", err, call)
	}
}

func TestOfClosedConn(t *testing.T) {
	client, _ := unixPair(t)
	client.Close()
	if cred, err := Of(client); err == nil {
		t.Fatalf("Of(closed conn): got %+v, want an error", cred)
	}
}
