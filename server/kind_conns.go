package server

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// connServer runs accept loops on the stream sockets of a service, hands
// each connection to handle, and tracks connections so that Stop can
// drain them. Kinds that serve plain connections build on it.
type connServer struct {
	info   ServiceInfo
	handle func(net.Conn)

	mu      sync.Mutex
	sockets []Socket
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
}

func newConnServer(info ServiceInfo, handle func(net.Conn)) *connServer {
	return &connServer{info: info, handle: handle, conns: map[net.Conn]struct{}{}}
}

// track records s as owned, so that Stop closes it, and counts the loop
// that serves it.
func (cs *connServer) track(s Socket) {
	cs.mu.Lock()
	cs.sockets = append(cs.sockets, s)
	cs.mu.Unlock()
	cs.wg.Add(1)
}

// acceptLoop accepts until l is closed. The Manager closing l to drop it
// ends the loop quietly.
func (cs *connServer) acceptLoop(l net.Listener) {
	defer cs.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				cs.info.Log.Error().Err(err).Str("address", l.Addr().String()).Msg("accept failed")
			}
			return
		}
		cs.mu.Lock()
		cs.conns[c] = struct{}{}
		cs.mu.Unlock()
		cs.wg.Add(1)
		go func() {
			defer cs.wg.Done()
			cs.handle(c)
			c.Close()
			cs.mu.Lock()
			delete(cs.conns, c)
			cs.mu.Unlock()
		}()
	}
}

// Stop closes the sockets, waits for open connections until ctx ends, and
// then closes those that remain.
func (cs *connServer) Stop(ctx context.Context) error {
	cs.mu.Lock()
	for _, s := range cs.sockets {
		s.Close()
	}
	cs.mu.Unlock()
	done := make(chan struct{})
	go func() {
		cs.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	cs.mu.Lock()
	for c := range cs.conns {
		c.SetDeadline(time.Now())
		c.Close()
	}
	cs.mu.Unlock()
	<-done
	return ctx.Err()
}
