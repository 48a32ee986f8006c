package server

import (
	"errors"
	"io"
	"net"
)

// maxDatagram is the largest UDP datagram the echo kind returns whole.
const maxDatagram = 65535

// echoRunner answers like the Echo Protocol (RFC 862): every byte received
// on TCP, and every UDP datagram, goes back to the sender.
type echoRunner struct {
	*connServer
}

func newEcho(info ServiceInfo) (Runner, error) {
	handle := func(c net.Conn) { io.Copy(c, c) }
	return &echoRunner{newConnServer(info, handle)}, nil
}

func (r *echoRunner) Start() error {
	for _, s := range r.info.Sockets {
		r.Serve(s)
	}
	return nil
}

func (r *echoRunner) Serve(s Socket) error {
	r.track(s)
	if s.Listener != nil {
		go r.acceptLoop(s.Listener)
	} else {
		go r.packetLoop(s.PacketConn)
	}
	return nil
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
