package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/portgate/portgate/protocol"
)

var errUnexpectedEOF = io.ErrUnexpectedEOF

// DefaultHelperPath is where the server looks for portgate-helper. It is
// set at build time (-ldflags "-X github.com/portgate/portgate/server.DefaultHelperPath=...")
// and can be overridden by the PORTGATE_HELPER environment variable or the
// helper key of the config.
var DefaultHelperPath = "/usr/local/libexec/portgate/portgate-helper"

// DefaultTimeout bounds the helper's start, handshake and each request.
const DefaultTimeout = 10 * time.Second

// Client acquires sockets: directly when the kernel allows the bind, from
// the helper when it refuses. It starts the helper on first need and again
// after the helper exits. A Client is safe for concurrent use; requests to
// the helper are sent one at a time.
type Client struct {
	// HelperPath is the portgate-helper executable; empty means
	// $PORTGATE_HELPER, then DefaultHelperPath.
	HelperPath string
	// HelperSocket, when set, is the socket of a portgate-helper daemon to
	// connect to instead of starting a helper as a child.
	HelperSocket string
	// HelperStderr receives the helper's log; nil means os.Stderr.
	HelperStderr *os.File
	// Timeout bounds each exchange with the helper; 0 means DefaultTimeout.
	Timeout time.Duration

	mu     sync.Mutex
	helper *helperConn
	nextID uint32
	// skipDirect sends every endpoint to the helper; tests use it to reach
	// the helper path while running as root.
	skipDirect bool
}

// Socket is one acquired socket. Exactly one of Listener and PacketConn is
// set. FromHelper is true when the helper bound it.
type Socket struct {
	Endpoint   Endpoint
	Listener   net.Listener
	PacketConn net.PacketConn
	FromHelper bool
}

// Close closes the socket.
func (s *Socket) Close() error {
	if s.Listener != nil {
		return s.Listener.Close()
	}
	return s.PacketConn.Close()
}

// LocalAddr returns the address the socket is bound to.
func (s *Socket) LocalAddr() net.Addr {
	if s.Listener != nil {
		return s.Listener.Addr()
	}
	return s.PacketConn.LocalAddr()
}

var defaultClient = &Client{}

// Listen returns a TCP listener on address, using a shared default Client.
// See (*Client).Listen.
func Listen(ctx context.Context, network, address string) (net.Listener, error) {
	return defaultClient.Listen(ctx, network, address)
}

// ListenPacket returns a UDP socket on address, using a shared default
// Client. See (*Client).ListenPacket.
func ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	return defaultClient.ListenPacket(ctx, network, address)
}

// Listen returns a listener for network "tcp", "tcp4" or "tcp6" on
// address ("host:port"). It binds directly first. When the kernel returns
// EACCES or EPERM, it sends a request to the helper. The outcomes:
//   - granted, directly or by the helper: a listener, nil;
//   - denied by the helper's policy: an error matching protocol.CodeDenied;
//   - the helper holds no privilege: an error matching protocol.CodeNoPrivilege
//     whose text says why and how to grant it;
//   - the helper cannot be started or closed the connection: an error that
//     names its path, or matches ErrHelperClosed;
//   - any other bind failure: an error naming the address, matching the
//     system error (errors.Is(err, syscall.EADDRINUSE)) or its protocol code.
func (c *Client) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	if !isStream(network) {
		return nil, fmt.Errorf("listen %s %s: Listen takes tcp, tcp4 or tcp6; use ListenPacket for udp", network, address)
	}
	socks, err := c.Acquire(ctx, []Endpoint{{network, address}})
	if err != nil {
		return nil, err
	}
	return socks[0].Listener, nil
}

// ListenPacket is Listen for "udp", "udp4" and "udp6", with the same outcomes.
func (c *Client) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	if isStream(network) {
		return nil, fmt.Errorf("listen %s %s: ListenPacket takes udp, udp4 or udp6; use Listen for tcp", network, address)
	}
	socks, err := c.Acquire(ctx, []Endpoint{{network, address}})
	if err != nil {
		return nil, err
	}
	return socks[0].PacketConn, nil
}

func isStream(network string) bool {
	n, err := protocol.ParseNetwork(network)
	return err == nil && n.Stream()
}

// Acquire binds every endpoint, or none: on any failure it closes what it
// bound and returns an error that names the failing endpoint. Endpoints
// the kernel lets this process bind are bound directly; the rest go to the
// helper in one request.
func (c *Client) Acquire(ctx context.Context, endpoints []Endpoint) ([]Socket, error) {
	socks := make([]Socket, len(endpoints))
	var pending []int
	var pendingErrs []error
	fail := func(err error) ([]Socket, error) {
		for i := range socks {
			if socks[i].Listener != nil || socks[i].PacketConn != nil {
				socks[i].Close()
			}
		}
		return nil, err
	}
	specs := make([]protocol.BindSpec, len(endpoints))
	for i, e := range endpoints {
		spec, err := e.bindSpec(ctx)
		if err == nil {
			// Port 0 asks the kernel for a free port, which is never
			// privileged, so it is bound directly and only the rest of
			// the spec is checked.
			check := spec
			if check.Port == 0 {
				check.Port = 1
			}
			err = check.Validate()
		}
		if err != nil {
			return nil, fmt.Errorf("listen %s: %w", e, err)
		}
		specs[i] = spec
	}
	for i, e := range endpoints {
		socks[i].Endpoint = e
		var err error = syscall.EACCES
		if !c.skipDirect {
			err = probeBind(specs[i])
		}
		if err == nil {
			err = listenDirect(ctx, &socks[i])
		}
		if err == nil {
			continue
		}
		if specs[i].Port == 0 || !errors.Is(err, syscall.EACCES) && !errors.Is(err, syscall.EPERM) {
			return fail(fmt.Errorf("listen %s: %w", e, err))
		}
		pending = append(pending, i)
		pendingErrs = append(pendingErrs, err)
	}
	if len(pending) == 0 {
		return socks, nil
	}

	helperSpecs := make([]protocol.BindSpec, len(pending))
	for j, i := range pending {
		helperSpecs[j] = specs[i]
	}
	files, err := c.bind(ctx, helperSpecs)
	if err != nil {
		var perr *protocol.Error
		at := endpoints[pending[0]]
		direct := pendingErrs[0]
		if errors.As(err, &perr) && int(perr.Index) < len(pending) {
			at = endpoints[pending[perr.Index]]
			direct = pendingErrs[perr.Index]
		}
		return fail(fmt.Errorf("listen %s: direct bind failed (%v), so the helper was asked: %w", at, innerError(direct), err))
	}
	for j, i := range pending {
		if err := adoptFile(files[j], &socks[i]); err != nil {
			closeFiles(files[j+1:])
			return fail(fmt.Errorf("listen %s: socket from the helper: %w", endpoints[i], err))
		}
		socks[i].FromHelper = true
	}
	return socks, nil
}

// innerError drops the "listen tcp ADDR:" prefix of a *net.OpError, which
// the caller's message already carries.
func innerError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Err
	}
	return err
}

func listenDirect(ctx context.Context, s *Socket) error {
	var lc net.ListenConfig
	var err error
	if isStream(s.Endpoint.Network) {
		s.Listener, err = lc.Listen(ctx, s.Endpoint.Network, s.Endpoint.Address)
	} else {
		s.PacketConn, err = lc.ListenPacket(ctx, s.Endpoint.Network, s.Endpoint.Address)
	}
	return err
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// Mechanism returns how the running helper binds privileged ports, as it
// reported in its Welcome, or "" when no helper is running.
func (c *Client) Mechanism() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.helper == nil {
		return ""
	}
	return c.helper.mechanism
}

// HelperPID returns the process id of the running helper, or 0. For a
// daemon it is the pid the kernel reports for the socket's other end.
func (c *Client) HelperPID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.helper == nil {
		return 0
	}
	if c.helper.cmd == nil {
		return c.helper.daemonPID
	}
	return c.helper.cmd.Process.Pid
}

// Close stops the helper, if one is running. Sockets already acquired stay
// open: the helper keeps no copy of them.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.helper != nil {
		c.helper.close()
		c.helper = nil
	}
	return nil
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

func (c *Client) helperPath() string {
	if c.HelperPath != "" {
		return c.HelperPath
	}
	if p := os.Getenv("PORTGATE_HELPER"); p != "" {
		return p
	}
	return DefaultHelperPath
}

// bind sends one request to the helper and returns one file per spec, in
// order, or an error. The caller owns the files. When the helper replies
// with CodeConnectionSpent, bind opens a new connection and sends the
// request once more.
func (c *Client) bind(ctx context.Context, specs []protocol.BindSpec) ([]*os.File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	files, err := c.bindOnce(ctx, specs)
	if !errors.Is(err, protocol.CodeConnectionSpent) {
		return files, err
	}
	c.helper.close()
	c.helper = nil
	// A helper daemon may not have seen the old connection close yet and
	// refuse the new one for its connections per uid: try again shortly.
	for attempt := 1; ; attempt++ {
		files, err = c.bindOnce(ctx, specs)
		if c.helper != nil || !errors.Is(err, protocol.CodeLimit) || attempt == 20 {
			return files, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(time.Duration(attempt) * 10 * time.Millisecond):
		}
	}
}

// bindOnce is bind on the current connection, or on a new one when there
// is none. The caller holds c.mu.
func (c *Client) bindOnce(ctx context.Context, specs []protocol.BindSpec) ([]*os.File, error) {
	if c.helper != nil {
		select {
		case <-c.helper.exited:
			c.helper.close()
			c.helper = nil
		default:
		}
	}
	if c.helper == nil {
		stderr := c.HelperStderr
		if stderr == nil {
			stderr = os.Stderr
		}
		var h *helperConn
		var err error
		if c.HelperSocket != "" {
			h, err = dialHelper(c.HelperSocket, c.timeout())
		} else {
			h, err = startHelper(c.helperPath(), stderr, c.timeout())
		}
		if err != nil {
			return nil, err
		}
		c.helper = h
	}
	c.nextID++
	fds, err := c.exchange(ctx, c.nextID, specs)
	if err != nil {
		var perr *protocol.Error
		if !errors.As(err, &perr) {
			// The stream may be out of step: start afresh next time.
			c.helper.close()
			c.helper = nil
		}
		return nil, err
	}
	files := make([]*os.File, len(fds))
	for i, fd := range fds {
		files[i] = os.NewFile(uintptr(fd), "helper-socket")
	}
	return files, nil
}

// exchange sends a BindRequest and collects its Grant frames. On any
// error it closes every descriptor received for the request.
func (c *Client) exchange(ctx context.Context, id uint32, specs []protocol.BindSpec) ([]int, error) {
	conn := c.helper.conn
	deadline := time.Now().Add(c.timeout())
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn.SetDeadline(deadline)
	defer conn.SetDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	if err := conn.Write(&protocol.BindRequest{ID: id, Binds: specs}, nil); err != nil {
		return nil, fmt.Errorf("send request to helper: %w", err)
	}
	var got []int
	fail := func(err error) ([]int, error) {
		protocol.CloseAll(got)
		return nil, err
	}
	for {
		m, fds, err := conn.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
			return fail(fmt.Errorf("the helper did not reply within %s: %w", c.timeout(), err))
		}
		if err != nil {
			return fail(fmt.Errorf("read helper reply: %w", helperReadError(err)))
		}
		switch m := m.(type) {
		case *protocol.Error:
			protocol.CloseAll(fds)
			if m.ID != id {
				return fail(fmt.Errorf("helper replied to request %d, want %d", m.ID, id))
			}
			return fail(m)
		case *protocol.Grant:
			got = append(got, fds...)
			switch {
			case m.ID != id:
				return fail(fmt.Errorf("helper granted request %d, want %d", m.ID, id))
			case int(m.Total) != len(specs):
				return fail(fmt.Errorf("helper grant names %d sockets, the request had %d", m.Total, len(specs)))
			case len(fds) != int(m.Count):
				return fail(fmt.Errorf("helper grant carries %d descriptors, but its header declares %d", len(fds), m.Count))
			case int(m.First)+len(fds) != len(got):
				return fail(fmt.Errorf("helper grant starts at socket %d, want %d", m.First, len(got)-len(fds)))
			}
			if len(got) == len(specs) {
				return got, nil
			}
		default:
			protocol.CloseAll(fds)
			return fail(fmt.Errorf("helper sent unexpected message type %d", m.Type()))
		}
	}
}
