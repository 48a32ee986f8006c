package server

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// maxDatagram is the largest UDP datagram the echo kind returns whole.
const maxDatagram = 65535

// echoRunner answers like the Echo Protocol (RFC 862): every byte received
// on TCP, and every UDP datagram, goes back to the sender.
type echoRunner struct {
	info    ServiceInfo
	mu      sync.Mutex
	sockets []Socket
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
}

func newEcho(info ServiceInfo) (Runner, error) {
	return &echoRunner{info: info, conns: map[net.Conn]struct{}{}}, nil
}

func (r *echoRunner) Start() error {
	for _, s := range r.info.Sockets {
		r.Serve(s)
	}
	return nil
}

func (r *echoRunner) Serve(s Socket) error {
	r.mu.Lock()
	r.sockets = append(r.sockets, s)
	r.mu.Unlock()
	r.wg.Add(1)
	if s.Listener != nil {
		go r.acceptLoop(s.Listener)
	} else {
		go r.packetLoop(s.PacketConn)
	}
	return nil
}

func (r *echoRunner) acceptLoop(l net.Listener) {
	defer r.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				r.info.Log.Error().Err(err).Str("address", l.Addr().String()).Msg("echo accept failed")
			}
			return
		}
		r.mu.Lock()
		r.conns[c] = struct{}{}
		r.mu.Unlock()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			io.Copy(c, c)
			c.Close()
			r.mu.Lock()
			delete(r.conns, c)
			r.mu.Unlock()
		}()
	}
}

func (r *echoRunner) packetLoop(pc net.PacketConn) {
	defer r.wg.Done()
	buf := make([]byte, maxDatagram)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				r.info.Log.Error().Err(err).Str("address", pc.LocalAddr().String()).Msg("echo read failed")
			}
			return
		}
		if _, err := pc.WriteTo(buf[:n], addr); err != nil {
			r.info.Log.Debug().Err(err).Str("peer", addr.String()).Msg("echo reply failed")
		}
	}
}

// Stop closes the sockets, waits for open connections until ctx ends, and
// then closes those that remain.
func (r *echoRunner) Stop(ctx context.Context) error {
	r.mu.Lock()
	for _, s := range r.sockets {
		s.Close()
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	r.mu.Lock()
	for c := range r.conns {
		c.SetDeadline(time.Now())
		c.Close()
	}
	r.mu.Unlock()
	<-done
	return ctx.Err()
}
