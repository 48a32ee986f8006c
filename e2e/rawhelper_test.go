package e2e

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portgate/portgate/protocol"
)

// rawPolicy lets root, the peer of a socketpair the test creates itself,
// bind ports 80 and 700-999, and nothing else.
const rawPolicy = `
[[allow]]
users = ["0"]
addresses = ["*"]
ports = [80, "700-999"]
`

// rawHelper is the real helper binary serving a socketpair whose other end
// the test drives byte by byte.
type rawHelper struct {
	t    *testing.T
	conn *protocol.Conn
	uc   *net.UnixConn
	pid  int
	log  *processLog
	exit chan error
}

func startRawHelper(t *testing.T, ns *netns, caps string) *rawHelper {
	t.Helper()
	helper := installHelper(t, caps)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	theirs := os.NewFile(uintptr(fds[1]), "helper-end")
	ours := os.NewFile(uintptr(fds[0]), "test-end")
	cmd := ns.command(nobodyUID, helper, "child", "--fd", "3", "--log-level", "trace")
	cmd.ExtraFiles = []*os.File{theirs}
	h := &rawHelper{t: t, log: newProcessLog(t), exit: make(chan error, 1)}
	cmd.Stderr = h.log.file
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	theirs.Close()
	h.pid = cmd.Process.Pid
	go func() { h.exit <- cmd.Wait() }()
	c, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		t.Fatal(err)
	}
	h.uc = c.(*net.UnixConn)
	h.uc.SetDeadline(time.Now().Add(30 * time.Second))
	h.conn = protocol.NewConn(h.uc)
	t.Cleanup(func() {
		h.uc.Close()
		select {
		case <-h.exit:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-h.exit
		}
		if t.Failed() {
			t.Logf("helper log:\n%s", h.log.String())
		}
	})
	return h
}

func (h *rawHelper) hello() {
	h.t.Helper()
	h.send(&protocol.Hello{MinVersion: 1, MaxVersion: 1}, nil)
	if w, ok := h.read().(*protocol.Welcome); !ok || w.Version != 1 {
		h.t.Fatalf("handshake: got %#v, want Welcome version 1", w)
	}
}

func (h *rawHelper) send(m protocol.Message, fds []int) {
	h.t.Helper()
	if err := h.conn.Write(m, fds); err != nil {
		h.t.Fatalf("send %T: %v", m, err)
	}
}

// read returns the next message and fails the test if it carried descriptors.
func (h *rawHelper) read() protocol.Message {
	h.t.Helper()
	m, fds, err := h.conn.Read()
	if err != nil {
		h.t.Fatalf("read from helper: %v", err)
	}
	if len(fds) != 0 {
		protocol.CloseAll(fds)
		h.t.Fatalf("%T arrived with %d descriptors, want none", m, len(fds))
	}
	return m
}

func (h *rawHelper) expectError(code protocol.Code, contains string) *protocol.Error {
	h.t.Helper()
	m := h.read()
	e, ok := m.(*protocol.Error)
	if !ok {
		h.t.Fatalf("got %#v, want Error %s", m, code)
	}
	if e.Code != code {
		h.t.Errorf("error code %s (%q), want %s", e.Code, e.Message, code)
	}
	if !strings.Contains(e.Message, contains) {
		h.t.Errorf("error message %q does not contain %q", e.Message, contains)
	}
	return e
}

func (h *rawHelper) waitExit() {
	h.t.Helper()
	select {
	case err := <-h.exit:
		h.exit <- err
	case <-time.After(5 * time.Second):
		h.t.Fatal("helper still running 5s after the connection should have ended")
	}
}

// settledFDs counts the descriptors of pid, waiting up to 2s for the count
// to reach want: the helper closes a granted socket right after sendmsg
// returns, which can be a moment after the test has received it.
func settledFDs(t *testing.T, pid, want int) int {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		n := openFDs(t, pid)
		if n == want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func spec(network protocol.Network, addr string, port uint32) protocol.BindSpec {
	return protocol.BindSpec{Network: network, Address: addr, Port: port, Flags: protocol.ReuseAddr}
}

func TestHelperRejectsBadInput(t *testing.T) {
	requireRoot(t)
	writePolicy(t, rawPolicy)
	ns := newNetns(t)
	h := startRawHelper(t, ns, "cap_net_bind_service=+ep")
	h.hello()
	base := openFDs(t, h.pid)
	checkFDs := func(step string) {
		t.Helper()
		if got := settledFDs(t, h.pid, base); got != base {
			links, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", h.pid))
			var names []string
			for _, l := range links {
				target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", h.pid, l.Name()))
				names = append(names, l.Name()+"->"+target)
			}
			t.Errorf("after %s the helper has %d descriptors, want %d: %v", step, got, base, names)
		}
	}

	h.uc.Write([]byte{0, 0, 0, 1, 99})
	h.expectError(protocol.CodeInvalid, "unknown message type 99")
	checkFDs("an unknown message type")

	h.uc.Write([]byte{0, 0, 0, 7, 3, 0, 0, 0, 1, 0, 1})
	h.expectError(protocol.CodeInvalid, "truncated")
	checkFDs("a truncated request")

	cases := []struct {
		name string
		spec protocol.BindSpec
		want string
	}{
		{"port 0", spec(protocol.TCP, "127.0.0.1", 0), "port 0 out of range"},
		{"port 65536", spec(protocol.TCP, "127.0.0.1", 65536), "port 65536 out of range"},
		{"hostname", spec(protocol.TCP, "localhost", 80), "invalid address"},
		{"unknown network", spec(9, "127.0.0.1", 80), "unknown network 9"},
		{"link-local without zone", spec(protocol.TCP6, "fe80::1", 80), "needs a zone"},
		{"zone of no interface", spec(protocol.TCP6, "fe80::1%nosuchif0", 80), "names no interface"},
	}
	for _, tc := range cases {
		h.send(&protocol.BindRequest{ID: 5, Binds: []protocol.BindSpec{tc.spec}}, nil)
		e := h.expectError(protocol.CodeInvalid, tc.want)
		if e.ID != 5 || e.Index != 0 {
			t.Errorf("%s: error for request %d socket %d, want request 5 socket 0", tc.name, e.ID, e.Index)
		}
		checkFDs(tc.name)
	}

	pipes := make([]int, 0, 3)
	for i := 0; i < 3; i++ {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		unix.Close(p[1])
		pipes = append(pipes, p[0])
	}
	h.send(&protocol.BindRequest{ID: 6, Binds: []protocol.BindSpec{spec(protocol.TCP, "127.0.0.1", 80)}}, pipes)
	protocol.CloseAll(pipes)
	h.expectError(protocol.CodeInvalid, "accepts no descriptors")
	checkFDs("a request carrying 3 descriptors")

	h.send(&protocol.Hello{MinVersion: 1, MaxVersion: 1}, nil)
	h.expectError(protocol.CodeInvalid, "unexpected message type 1")

	// After all that, a valid request is still served.
	h.send(&protocol.BindRequest{ID: 7, Binds: []protocol.BindSpec{spec(protocol.TCP, "127.0.0.1", 80)}}, nil)
	m, fds, err := h.conn.Read()
	if err != nil {
		t.Fatalf("valid request after bad ones: %v", err)
	}
	if g, ok := m.(*protocol.Grant); !ok || g.ID != 7 || len(fds) != 1 {
		t.Fatalf("valid request after bad ones: got %#v with %d fds, want Grant 7 with 1", m, len(fds))
	}
	if sa, err := unix.Getsockname(fds[0]); err != nil || sa.(*unix.SockaddrInet4).Port != 80 {
		t.Errorf("granted socket: getsockname %v, %v, want port 80", sa, err)
	}
	protocol.CloseAll(fds)
	checkFDs("a grant (the helper must keep no copy)")

	// An oversized frame ends the connection with a last error reply.
	h.uc.Write([]byte{0, 0x10, 0, 0})
	h.expectError(protocol.CodeInvalid, "frame length 1048576")
	if _, _, err := h.conn.Read(); !errors.Is(err, protocol.ErrClosed) {
		t.Errorf("after an oversized frame: got %v, want the helper to close", err)
	}
	h.waitExit()
}

func TestHelperRejectsUnknownVersion(t *testing.T) {
	requireRoot(t)
	writePolicy(t, rawPolicy)
	ns := newNetns(t)
	h := startRawHelper(t, ns, "cap_net_bind_service=+ep")
	h.send(&protocol.Hello{MinVersion: 7, MaxVersion: 9}, nil)
	h.expectError(protocol.CodeVersion, "client speaks versions 7 to 9, this helper speaks 1 to 1")
	h.waitExit()
}

func TestHelperSurvivesHangUpMidRequest(t *testing.T) {
	requireRoot(t)
	writePolicy(t, rawPolicy)
	ns := newNetns(t)
	h := startRawHelper(t, ns, "cap_net_bind_service=+ep")
	h.hello()
	h.uc.Write([]byte{0, 0, 0, 40, 3, 0, 0})
	h.uc.Close()
	h.waitExit()
	if !strings.Contains(h.log.String(), "unexpected EOF") {
		t.Errorf("helper log does not report the cut frame:\n%s", h.log.String())
	}
}

// TestHelperGrantsInBatches binds 300 ports in one request: they arrive in
// order, in Grant frames of at most protocol.MaxFDsPerFrame descriptors.
func TestHelperGrantsInBatches(t *testing.T) {
	requireRoot(t)
	writePolicy(t, rawPolicy)
	ns := newNetns(t)
	h := startRawHelper(t, ns, "cap_net_bind_service=+ep")
	h.hello()
	base := openFDs(t, h.pid)
	specs := make([]protocol.BindSpec, 300)
	for i := range specs {
		specs[i] = spec(protocol.TCP4, "127.0.0.1", uint32(700+i))
	}
	h.send(&protocol.BindRequest{ID: 9, Binds: specs}, nil)
	var got []int
	frames := 0
	for len(got) < len(specs) {
		m, fds, err := h.conn.Read()
		if err != nil {
			t.Fatalf("after %d sockets: %v", len(got), err)
		}
		frames++
		g, ok := m.(*protocol.Grant)
		if !ok {
			t.Fatalf("frame %d: got %#v, want Grant", frames, m)
		}
		if len(fds) > protocol.MaxFDsPerFrame {
			t.Errorf("frame %d carries %d descriptors, more than %d", frames, len(fds), protocol.MaxFDsPerFrame)
		}
		if int(g.First) != len(got) || int(g.Count) != len(fds) || g.Total != 300 {
			t.Errorf("frame %d: first %d count %d total %d with %d fds, want first %d", frames, g.First, g.Count, g.Total, len(fds), len(got))
		}
		got = append(got, fds...)
	}
	// The deferred call reads got when the test ends, because the test
	// closes these descriptors earlier and their numbers may be reused.
	defer func() { protocol.CloseAll(got) }()
	if frames != 5 {
		t.Errorf("300 sockets came in %d frames, want 5", frames)
	}
	for i, fd := range got {
		sa, err := unix.Getsockname(fd)
		if err != nil {
			t.Fatalf("socket %d: %v", i, err)
		}
		if port := sa.(*unix.SockaddrInet4).Port; port != 700+i {
			t.Errorf("socket %d is bound to port %d, want %d", i, port, 700+i)
		}
	}
	if n := settledFDs(t, h.pid, base); n != base {
		t.Errorf("helper holds %d descriptors after granting 300, want %d", n, base)
	}

	// One denied socket fails the whole request and nothing arrives.
	protocol.CloseAll(got)
	got = nil
	specs[250].Port = 1000
	h.send(&protocol.BindRequest{ID: 10, Binds: specs}, nil)
	e := h.expectError(protocol.CodeDenied, "127.0.0.1:1000")
	if e.Index != 250 {
		t.Errorf("denial names socket %d, want 250", e.Index)
	}
	// A socket that fails to bind after 298 others were bound: the helper
	// closes those 298 and grants nothing.
	specs[250].Port = 950
	specs[298] = spec(protocol.TCP6, "::2", 998)
	h.send(&protocol.BindRequest{ID: 11, Binds: specs}, nil)
	e = h.expectError(protocol.CodeAddrNotAvail, "[::2]:998")
	if e.Index != 298 {
		t.Errorf("bind failure names socket %d, want 298", e.Index)
	}
	if n := settledFDs(t, h.pid, base); n != base {
		t.Errorf("helper holds %d descriptors after failed requests, want %d", n, base)
	}
}

// TestHelperRefusesForeignSocket starts the helper through a shell that
// forks it, so descriptor 3 leads to the test process, not to the helper's
// parent: the helper must refuse, since the kernel's credentials on that
// socket are not its parent's.
func TestHelperRefusesForeignSocket(t *testing.T) {
	requireRoot(t)
	writePolicy(t, rawPolicy)
	ns := newNetns(t)
	helper := installHelper(t, "cap_net_bind_service=p")
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	theirs := os.NewFile(uintptr(fds[1]), "helper-end")
	ours := os.NewFile(uintptr(fds[0]), "test-end")
	cmd := ns.command(nobodyUID, "sh", "-c", `"$0" child --fd 3; exit $?`, helper)
	cmd.ExtraFiles = []*os.File{theirs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	theirs.Close()
	done := timeoutKill(cmd, 10*time.Second)
	defer func() {
		done()
		cmd.Wait()
	}()
	c, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		t.Fatal(err)
	}
	conn := protocol.NewConn(c.(*net.UnixConn))
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	conn.Write(&protocol.Hello{MinVersion: 1, MaxVersion: 1}, nil)
	m, _, err := conn.Read()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	e, ok := m.(*protocol.Error)
	if !ok || e.Code != protocol.CodeHelperFailed {
		t.Fatalf("got %#v, want Error %s", m, protocol.CodeHelperFailed)
	}
	if !strings.Contains(e.Message, "not to the parent process") {
		t.Errorf("error %q does not say the socket leads elsewhere", e.Message)
	}
}
