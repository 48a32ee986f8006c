package helper

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"

	"github.com/portgate/portgate/protocol"
)

// Daemon serves every peer that connects to its socket, each in its own
// goroutine, against a policy that SIGHUP can replace while it runs.
type Daemon struct {
	Listener  *net.UnixListener
	Mechanism *Mechanism
	Log       zerolog.Logger

	policy atomic.Pointer[Policy]
	active atomic.Int64
	wg     sync.WaitGroup
}

// NewDaemon returns a daemon serving ln with policy p.
func NewDaemon(ln *net.UnixListener, p *Policy, m *Mechanism, log zerolog.Logger) *Daemon {
	d := &Daemon{Listener: ln, Mechanism: m, Log: log}
	d.policy.Store(p)
	return d
}

// Policy returns the policy in force.
func (d *Daemon) Policy() *Policy { return d.policy.Load() }

// Reload reads the policy file again with the same ownership checks. An
// invalid file leaves the policy in force unchanged, and Reload returns
// why. The [daemon] table is read only at start.
func (d *Daemon) Reload(path string) error {
	p, err := LoadPolicy(path, 0)
	if errors.Is(err, ErrNoPolicy) {
		err = fmt.Errorf("policy %s is gone; keeping the one loaded before", path)
	}
	if err != nil {
		d.Log.Error().Err(err).Str("policy", path).Msg("reload failed, old policy kept")
		return err
	}
	d.policy.Store(p)
	d.Log.Info().Str("policy", path).Int("rules", len(p.Rules)).Msg("policy reloaded")
	return nil
}

// Serve accepts connections until the listener is closed, then waits for
// the open sessions to end.
func (d *Daemon) Serve() error {
	for {
		c, err := d.Listener.AcceptUnix()
		if errors.Is(err, net.ErrClosed) {
			d.wg.Wait()
			return nil
		}
		if err != nil {
			d.Log.Error().Err(err).Msg("accept failed")
			continue
		}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.serveConn(c)
		}()
	}
}

func (d *Daemon) serveConn(c *net.UnixConn) {
	conn := protocol.NewConn(c)
	defer conn.Close()
	peer, err := PeerOf(c)
	if err != nil {
		d.Log.Error().Err(err).Msg("dropped client: no peer credentials")
		return
	}
	limits := d.Policy().Limits
	if n := d.active.Add(1); n > int64(limits.MaxPeers) {
		d.active.Add(-1)
		d.Log.Warn().Uint32("peer_uid", peer.UID).Int32("peer_pid", peer.PID).Int("max_peers", limits.MaxPeers).Msg("dropped client: too many peers")
		conn.Write(&protocol.Error{Code: protocol.CodeLimit, Index: protocol.NoIndex,
			Message: fmt.Sprintf("the helper already serves max_peers %d connections: retry later, or raise max_peers in [limits] of the policy", limits.MaxPeers)}, nil)
		return
	}
	defer d.active.Add(-1)
	s := &Session{
		Conn:          conn,
		Peer:          peer,
		Policy:        d.Policy(),
		Mechanism:     d.Mechanism,
		Log:           d.Log,
		CurrentPolicy: d.Policy,
		IdleTimeout:   limits.IdleTimeout,
	}
	if err := s.Serve(); err != nil {
		s.Log.Warn().Err(err).Msg("session ended")
	}
}

// Close stops accepting; sessions in progress run to their end.
func (d *Daemon) Close() error {
	return d.Listener.Close()
}

// Active returns the number of connections being served.
func (d *Daemon) Active() int { return int(d.active.Load()) }
