package protocol

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// socketPair returns both ends of a Unix stream socketpair as *net.UnixConn.
func socketPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	conns := make([]*net.UnixConn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatalf("FileConn: %v", err)
		}
		conns[i] = c.(*net.UnixConn)
		t.Cleanup(func() { conns[i].Close() })
		conns[i].SetDeadline(time.Now().Add(10 * time.Second))
	}
	return conns[0], conns[1]
}

// openFDs counts the descriptors of this process.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors without /proc/self/fd: %v", err)
	}
	return len(ents)
}

// pipeFDs returns the read ends of n fresh pipes; the test closes them.
func pipeFDs(t *testing.T, n int) []int {
	t.Helper()
	var fds []int
	for i := 0; i < n; i++ {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			t.Fatalf("pipe: %v", err)
		}
		unix.Close(p[1])
		fds = append(fds, p[0])
	}
	t.Cleanup(func() { CloseAll(fds) })
	return fds
}

func sameFile(t *testing.T, a, b int) bool {
	t.Helper()
	var sa, sb unix.Stat_t
	if err := unix.Fstat(a, &sa); err != nil {
		t.Fatalf("fstat %d: %v", a, err)
	}
	if err := unix.Fstat(b, &sb); err != nil {
		t.Fatalf("fstat %d: %v", b, err)
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

func TestWriteOneExactRightsBlock(t *testing.T) {
	for _, n := range []int{1, 2, 7} {
		a, b := socketPair(t)
		sent := pipeFDs(t, n)
		if err := NewConn(a).Write(&Grant{ID: 1, Count: uint16(n), Total: uint16(n)}, sent); err != nil {
			t.Fatalf("Write %d fds: %v", n, err)
		}
		buf := make([]byte, 64)
		oob := make([]byte, controlSpace)
		_, oobn, flags, _, err := b.ReadMsgUnix(buf, oob)
		if err != nil {
			t.Fatalf("ReadMsgUnix: %v", err)
		}
		if flags&unix.MSG_CTRUNC != 0 {
			t.Fatalf("MSG_CTRUNC set for %d fds", n)
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		if len(msgs) != 1 {
			t.Fatalf("%d fds: got %d control messages, want 1", n, len(msgs))
		}
		if got, want := int(msgs[0].Header.Len), unix.CmsgLen(4*n); got != want {
			t.Errorf("%d fds: cmsg_len %d, want %d", n, got, want)
		}
		got, err := unix.ParseUnixRights(&msgs[0])
		if err != nil {
			t.Fatalf("ParseUnixRights: %v", err)
		}
		if len(got) != n {
			t.Fatalf("received %d fds, want %d", len(got), n)
		}
		for i, fd := range got {
			if fd == 0 {
				t.Errorf("fd 0 arrived as passed descriptor %d", i)
			}
			if !sameFile(t, fd, sent[i]) {
				t.Errorf("received fd %d is not the pipe sent at position %d", fd, i)
			}
		}
		CloseAll(got)
	}
}

func TestReadCollectsWithPassCred(t *testing.T) {
	a, b := socketPair(t)
	raw, err := b.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	raw.Control(func(fd uintptr) {
		err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	})
	if err != nil {
		t.Skipf("SO_PASSCRED not available: %v", err)
	}
	sent := pipeFDs(t, 2)
	if err := NewConn(a).Write(&Grant{ID: 3, Count: 2, Total: 2}, sent); err != nil {
		t.Fatal(err)
	}
	m, fds, err := NewConn(b).Read()
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	defer CloseAll(fds)
	if g, ok := m.(*Grant); !ok || g.ID != 3 {
		t.Errorf("message %#v, want Grant 3", m)
	}
	if len(fds) != 2 {
		t.Fatalf("got %d fds, want 2", len(fds))
	}
	for i := range fds {
		if !sameFile(t, fds[i], sent[i]) {
			t.Errorf("fd %d is not the pipe sent at position %d", fds[i], i)
		}
	}
}

func TestParseRightsCraftedBuffer(t *testing.T) {
	fds := pipeFDs(t, 3)
	dups := make([]int, 3)
	for i, fd := range fds {
		d, err := unix.Dup(fd)
		if err != nil {
			t.Fatal(err)
		}
		dups[i] = d
	}
	var oob []byte
	oob = append(oob, unix.UnixCredentials(&unix.Ucred{Pid: 1, Uid: 2, Gid: 3})...)
	oob = append(oob, unix.UnixRights(dups[0])...)
	oob = append(oob, unix.UnixRights(dups[1], dups[2])...)
	got, err := ParseRights(oob)
	if err != nil {
		t.Fatalf("ParseRights: %v", err)
	}
	defer CloseAll(got)
	if len(got) != 3 {
		t.Fatalf("got %d fds, want 3 from two rights blocks after credentials", len(got))
	}
	for i := range got {
		if got[i] != dups[i] {
			t.Errorf("fd %d: got %d, want %d", i, got[i], dups[i])
		}
	}
}

func TestReadEOFBetweenFrames(t *testing.T) {
	a, b := socketPair(t)
	a.Close()
	_, _, err := NewConn(b).Read()
	if !errors.Is(err, ErrClosed) {
		t.Errorf("Read after close: got %v, want ErrClosed", err)
	}
}

func TestReadEOFInsideFrame(t *testing.T) {
	a, b := socketPair(t)
	a.Write([]byte{0, 0, 0, 10, 1, 2})
	a.Close()
	_, _, err := NewConn(b).Read()
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Read of cut frame: got %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestReadRejectsOversizedFrame(t *testing.T) {
	for _, hdr := range [][]byte{{0, 1, 0, 1}, {0xff, 0xff, 0xff, 0xff}, {0, 0, 0, 0}} {
		a, b := socketPair(t)
		a.Write(hdr)
		_, _, err := NewConn(b).Read()
		if !errors.Is(err, ErrFrame) {
			t.Errorf("header %x: got %v, want ErrFrame", hdr, err)
		}
	}
}

func TestReadOneByteChunks(t *testing.T) {
	a, b := socketPair(t)
	sent := pipeFDs(t, 1)
	before := openFDs(t)
	if err := NewConn(a).Write(&Grant{ID: 5, Count: 1, Total: 1}, sent); err != nil {
		t.Fatal(err)
	}
	if err := NewConn(a).Write(&Error{ID: 6, Code: CodeDenied, Message: "next frame"}, nil); err != nil {
		t.Fatal(err)
	}
	rc := NewConn(b)
	rc.readChunk = 1
	m, fds, err := rc.Read()
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if _, ok := m.(*Grant); !ok {
		t.Fatalf("first message %#v, want Grant", m)
	}
	if len(fds) != 1 {
		t.Fatalf("got %d fds on one-byte reads, want 1", len(fds))
	}
	if !sameFile(t, fds[0], sent[0]) {
		t.Errorf("received fd is not the pipe that was sent")
	}
	m, more, err := rc.Read()
	if err != nil {
		t.Fatalf("second Read: %v", err)
	}
	if _, ok := m.(*Error); !ok || len(more) != 0 {
		t.Errorf("second frame: got %#v with %d fds, want Error with none", m, len(more))
	}
	CloseAll(fds)
	if after := openFDs(t); after != before {
		t.Errorf("open descriptors: %d after, want %d", after, before)
	}
}

func TestReadClosesFDsOfBadFrame(t *testing.T) {
	a, b := socketPair(t)
	sent := pipeFDs(t, 2)
	before := openFDs(t)
	frame := []byte{0, 0, 0, 1, 99} // unknown type
	if _, _, err := a.WriteMsgUnix(frame, unix.UnixRights(sent...), nil); err != nil {
		t.Fatal(err)
	}
	_, fds, err := NewConn(b).Read()
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("got %v, want ErrMalformed", err)
	}
	if fds != nil {
		t.Errorf("got fds %v with an error, want none", fds)
	}
	if after := openFDs(t); after != before {
		t.Errorf("open descriptors: %d after a bad frame with 2 fds, want %d", after, before)
	}
}

func TestReadTruncatedControlMessage(t *testing.T) {
	a, b := socketPair(t)
	sent := pipeFDs(t, MaxFDsPerFrame+40)
	before := openFDs(t)
	frame := []byte{0, 0, 0, 11, 4, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1}
	if _, _, err := a.WriteMsgUnix(frame, unix.UnixRights(sent...), nil); err != nil {
		t.Fatal(err)
	}
	_, fds, err := NewConn(b).Read()
	if err == nil {
		CloseAll(fds)
		t.Fatalf("Read of %d fds: got no error, want MSG_CTRUNC", len(sent))
	}
	if after := openFDs(t); after != before {
		t.Errorf("open descriptors: %d after a truncated message, want %d", after, before)
	}
}

func TestWriteRejectsTooManyFDs(t *testing.T) {
	a, _ := socketPair(t)
	fds := pipeFDs(t, MaxFDsPerFrame+1)
	err := NewConn(a).Write(&Grant{ID: 1, Count: 1, Total: 1}, fds)
	if err == nil {
		t.Errorf("Write with %d fds: got nil, want an error", len(fds))
	}
}
