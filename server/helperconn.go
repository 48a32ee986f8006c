package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portgate/portgate/protocol"
)

// helperConn is a connection to one running helper in child mode.
type helperConn struct {
	conn      *protocol.Conn
	cmd       *exec.Cmd // nil for a daemon
	daemonPID int
	mechanism string
	exited    chan struct{} // nil for a daemon
}

// dialHelper connects to a helper daemon's socket and performs the
// handshake.
func dialHelper(path string, timeout time.Duration) (*helperConn, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.Dial("unix", path)
	if errors.Is(err, syscall.EACCES) {
		return nil, fmt.Errorf("connect to helper daemon %s: %w: the socket's mode keeps this account out; add it to the socket_group named in the [daemon] table of the helper policy", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to helper daemon %s: %w: start portgate-helper daemon, or remove helper_socket from the config to start a helper as a child", path, err)
	}
	h := &helperConn{conn: protocol.NewConn(c.(*net.UnixConn))}
	h.daemonPID = peerPID(c.(*net.UnixConn))
	if err := h.handshake(timeout); err != nil {
		h.close()
		return nil, fmt.Errorf("helper daemon %s: %w", path, err)
	}
	return h, nil
}

// startHelper runs the helper at path with one end of a fresh socketpair
// as its descriptor 3, and performs the handshake. The helper gets an
// empty environment, so no LISTEN_FDS or other variable of the server
// reaches it, and no descriptor but the socketpair and standard error.
func startHelper(path string, stderr *os.File, timeout time.Duration) (*helperConn, error) {
	fds, err := socketpair()
	if err != nil {
		return nil, fmt.Errorf("create socketpair for the helper: %w", err)
	}
	ours := os.NewFile(uintptr(fds[0]), "helper")
	theirs := os.NewFile(uintptr(fds[1]), "helper-peer")

	cmd := exec.Command(path, "child", "--fd", "3")
	cmd.Env = []string{}
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.Stderr = stderr
	err = cmd.Start()
	// The helper has its copy now. Keeping ours of its end would hide its
	// exit: reads would wait instead of seeing EOF.
	theirs.Close()
	if err != nil {
		ours.Close()
		return nil, fmt.Errorf("start helper %s: %w: install portgate-helper there, or set helper in the config to where it is", path, err)
	}
	h := &helperConn{cmd: cmd, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(h.exited)
	}()

	c, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("wrap helper socket: %w", err)
	}
	h.conn = protocol.NewConn(c.(*net.UnixConn))
	if err := h.handshake(timeout); err != nil {
		h.close()
		return nil, err
	}
	return h, nil
}

func (h *helperConn) handshake(timeout time.Duration) error {
	h.conn.SetDeadline(time.Now().Add(timeout))
	defer h.conn.SetDeadline(time.Time{})
	writeErr := h.conn.Write(&protocol.Hello{MinVersion: protocol.MinVersion, MaxVersion: protocol.Version}, nil)
	// A daemon that rejects a connection for its peer limits writes an
	// Error and closes without reading the Hello. The write then fails with
	// EPIPE while that Error is still queued, so the read comes first.
	m, fds, err := h.conn.Read()
	if writeErr != nil {
		protocol.CloseAll(fds)
		if rejection, ok := m.(*protocol.Error); ok && err == nil {
			return fmt.Errorf("helper handshake: %w", rejection)
		}
		return fmt.Errorf("helper handshake: %w", writeErr)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("helper handshake: the helper did not reply within %s: %w", timeout, err)
	}
	if err != nil {
		return fmt.Errorf("helper handshake: %w", helperReadError(err))
	}
	protocol.CloseAll(fds)
	switch m := m.(type) {
	case *protocol.Welcome:
		h.mechanism = m.Mechanism
		return nil
	case *protocol.Error:
		return fmt.Errorf("helper handshake: %w", m)
	}
	return fmt.Errorf("helper handshake: unexpected message type %d", m.Type())
}

// ErrHelperClosed means the helper closed the connection before its reply,
// usually because it exited; its log on standard error gives the reason.
var ErrHelperClosed = errors.New("helper closed connection")

func helperReadError(err error) error {
	if errors.Is(err, protocol.ErrClosed) || errors.Is(err, protocol.ErrFrame) && errors.Is(err, unix.ECONNRESET) {
		return ErrHelperClosed
	}
	if errors.Is(err, protocol.ErrFrame) && errors.Is(err, errUnexpectedEOF) {
		return fmt.Errorf("%w in the middle of a reply", ErrHelperClosed)
	}
	return err
}

// close hangs up, which ends a child helper, and gives it a second to exit
// before killing it; a daemon goes on serving others.
func (h *helperConn) close() {
	h.conn.Close()
	if h.cmd == nil {
		return
	}
	select {
	case <-h.exited:
	case <-time.After(time.Second):
		h.cmd.Process.Kill()
		<-h.exited
	}
}
