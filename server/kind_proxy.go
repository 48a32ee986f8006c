package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// proxyDialTimeout bounds the connection to the backend.
const proxyDialTimeout = 10 * time.Second

// proxyRunner relays each TCP connection to the backend address, in both
// directions. When one side finishes sending, the proxy shuts down the
// write half towards the other side (half-close) and keeps relaying the
// other direction until it ends too. On Linux, Go's io.Copy between two
// TCP connections moves the bytes with splice(2).
type proxyRunner struct {
	*connServer
}

func newProxy(info ServiceInfo) (Runner, error) {
	for _, s := range info.Sockets {
		if s.Listener == nil {
			return nil, fmt.Errorf("kind proxy relays TCP only, but %s is UDP", s.Endpoint)
		}
	}
	r := &proxyRunner{}
	r.connServer = newConnServer(info, r.relay)
	return r, nil
}

func (r *proxyRunner) Start() error {
	for _, s := range r.info.Sockets {
		if err := r.Serve(s); err != nil {
			return err
		}
	}
	return nil
}

func (r *proxyRunner) Serve(s Socket) error {
	if s.Listener == nil {
		return fmt.Errorf("kind proxy relays TCP only, but %s is UDP", s.Endpoint)
	}
	r.track(s)
	go r.acceptLoop(s.Listener)
	return nil
}

// relay connects client to the backend and copies both ways until both
// directions have ended.
func (r *proxyRunner) relay(client net.Conn) {
	backend := r.info.Config.Backend
	up, err := net.DialTimeout("tcp", backend, proxyDialTimeout)
	if err != nil {
		r.info.Log.Warn().Err(err).Str("backend", backend).Str("peer", client.RemoteAddr().String()).Msg("proxy backend unreachable: connection closed")
		return
	}
	r.mu.Lock()
	r.conns[up] = struct{}{}
	r.mu.Unlock()
	defer func() {
		up.Close()
		r.mu.Lock()
		delete(r.conns, up)
		r.mu.Unlock()
	}()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		pipe(up, client)
	}()
	go func() {
		defer wg.Done()
		pipe(client, up)
	}()
	wg.Wait()
}

// pipe copies src to dst until src ends, then closes the write half of dst
// so that its peer sees the end of the stream. On an error in either
// direction both connections close, which ends the other direction too.
func pipe(dst, src net.Conn) {
	_, err := io.Copy(dst, src)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		dst.Close()
		src.Close()
		return
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		dst.Close()
	}
}
