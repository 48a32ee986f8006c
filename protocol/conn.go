package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// ErrFrame is wrapped by errors that leave the stream out of step: a frame
// length out of range, or a frame cut short. The connection is of no
// further use after it.
var ErrFrame = errors.New("broken frame")

// ErrClosed is returned when the peer closes the connection at a frame
// boundary.
var ErrClosed = errors.New("peer closed the connection")

// Conn reads and writes frames on a Unix stream socket. It is not safe for
// concurrent reads or concurrent writes; one reader and one writer may run
// at once.
type Conn struct {
	uc *net.UnixConn
	// readChunk, when non-zero, caps the bytes asked of each recvmsg. Tests
	// use 1 to read a frame one byte at a time.
	readChunk int
	oob       []byte
	// deadline is the last deadline set through SetDeadline, which Read
	// restores after tightening it for the rest of a started frame.
	deadline     time.Time
	frameTimeout time.Duration
}

// NewConn wraps uc. The Conn owns uc from then on: Close closes it.
func NewConn(uc *net.UnixConn) *Conn {
	return &Conn{uc: uc, oob: make([]byte, controlSpace)}
}

// Close closes the underlying socket.
func (c *Conn) Close() error { return c.uc.Close() }

// UnixConn returns the underlying socket, for peer credentials and deadlines.
func (c *Conn) UnixConn() *net.UnixConn { return c.uc }

// SetDeadline sets the read and write deadline of the socket.
func (c *Conn) SetDeadline(t time.Time) error {
	c.deadline = t
	return c.uc.SetDeadline(t)
}

// SetFrameTimeout bounds how long Read waits for the rest of a frame once
// its header has arrived; 0 means no bound beyond the deadline. It stops a
// peer from holding a connection with a frame it never finishes.
func (c *Conn) SetFrameTimeout(d time.Duration) { c.frameTimeout = d }

// Write sends m as one frame. When fds is not empty they travel in one
// SCM_RIGHTS message of the same sendmsg call. The caller keeps ownership
// of fds: the kernel duplicates them into the receiver.
func (c *Conn) Write(m Message, fds []int) error {
	body, err := Encode(m)
	if err != nil {
		return err
	}
	frame := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(frame, uint32(len(body)))
	frame = append(frame, body...)

	var oob []byte
	if len(fds) > 0 {
		if len(fds) > MaxFDsPerFrame {
			return fmt.Errorf("send %d descriptors in one frame: the maximum is %d", len(fds), MaxFDsPerFrame)
		}
		oob = unix.UnixRights(fds...)
	}
	n, _, err := c.uc.WriteMsgUnix(frame, oob, nil)
	if err != nil {
		return fmt.Errorf("send frame: %w", err)
	}
	// A stream socket may take part of a large frame. The descriptors went
	// with the first part, so the rest is written as plain bytes.
	if n < len(frame) {
		if _, err := c.uc.Write(frame[n:]); err != nil {
			return fmt.Errorf("send rest of frame: %w", err)
		}
	}
	return nil
}

// Read receives one frame and returns its message and the descriptors that
// arrived with it. The caller owns the descriptors when err is nil; on
// error Read has closed them. Errors:
//   - ErrClosed: the peer closed the connection between frames;
//   - ErrFrame: the length was out of range, the peer closed inside a
//     frame, or the socket failed, and the connection is of no further use;
//   - ErrMalformed: the frame arrived whole but its body or its control
//     messages were invalid, and the next frame can be read.
func (c *Conn) Read() (Message, []int, error) {
	var hdr [4]byte
	var fds []int
	fail := func(err error) (Message, []int, error) {
		CloseAll(fds)
		return nil, nil, err
	}

	ctlErr, err := c.readFull(hdr[:], &fds)
	if err != nil {
		return fail(err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || n > MaxFrameSize {
		return fail(fmt.Errorf("%w: frame length %d, want 1 to %d", ErrFrame, n, MaxFrameSize))
	}
	body := make([]byte, n)
	if c.frameTimeout > 0 {
		if d := time.Now().Add(c.frameTimeout); c.deadline.IsZero() || d.Before(c.deadline) {
			c.uc.SetReadDeadline(d)
			defer c.uc.SetReadDeadline(c.deadline)
		}
	}
	bodyCtlErr, err := c.readFull(body, &fds)
	if errors.Is(err, ErrClosed) {
		err = fmt.Errorf("%w: %w", ErrFrame, io.ErrUnexpectedEOF)
	}
	if err != nil {
		return fail(err)
	}
	if ctlErr == nil {
		ctlErr = bodyCtlErr
	}
	if ctlErr != nil {
		return fail(ctlErr)
	}
	m, err := Decode(body)
	if err != nil {
		return fail(err)
	}
	return m, fds, nil
}

// readFull fills p without reading past it, appending every descriptor
// that arrives to fds. A problem with the control messages is returned as
// ctlErr after p is full, so the stream stays in step; err is a failure of
// the socket itself, wrapped in ErrFrame, or ErrClosed at a clean end.
func (c *Conn) readFull(p []byte, fds *[]int) (ctlErr, err error) {
	for got := 0; got < len(p); {
		want := p[got:]
		if c.readChunk > 0 && len(want) > c.readChunk {
			want = want[:c.readChunk]
		}
		n, oobn, flags, _, rerr := c.uc.ReadMsgUnix(want, c.oob)
		if oobn > 0 {
			rights, perr := ParseRights(c.oob[:oobn])
			*fds = append(*fds, rights...)
			if perr != nil && ctlErr == nil {
				ctlErr = fmt.Errorf("%w: %w", ErrMalformed, perr)
			}
		}
		if flags&unix.MSG_CTRUNC != 0 && ctlErr == nil {
			ctlErr = fmt.Errorf("%w: control message truncated (MSG_CTRUNC): the peer sent more descriptors than the %d a frame may carry", ErrMalformed, MaxFDsPerFrame)
		}
		got += n
		switch {
		case rerr == nil:
		case errors.Is(rerr, io.EOF) && got == 0:
			return ctlErr, ErrClosed
		case errors.Is(rerr, io.EOF):
			return ctlErr, fmt.Errorf("%w: %w", ErrFrame, io.ErrUnexpectedEOF)
		default:
			return ctlErr, fmt.Errorf("%w: receive: %w", ErrFrame, rerr)
		}
	}
	return ctlErr, nil
}
