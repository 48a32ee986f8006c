package helper

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/portgate/portgate/internal/peercred"
	"github.com/portgate/portgate/protocol"
)

// Daemon serves every peer that connects to its socket, each in its own
// goroutine, against a policy that SIGHUP can replace while it runs.
type Daemon struct {
	Listener  *net.UnixListener
	Mechanism *Mechanism
	Log       zerolog.Logger

	// Path is the socket's path, for log messages.
	Path string

	policy atomic.Pointer[Policy]
	active atomic.Int64
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[*net.UnixConn]struct{}
	drops  denialLimiter
	perUID map[uint32]int
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
	if old := d.policy.Swap(p); old != nil && old.Daemon != p.Daemon {
		d.Log.Warn().Str("policy", path).Msg("the [daemon] table changed; it applies only when the daemon restarts")
	}
	d.Log.Info().Str("policy", path).Int("rules", len(p.Rules)).Msg("policy reloaded")
	return nil
}

// StopGrace is how long Serve lets open sessions finish after Close
// before it closes their connections.
const StopGrace = 2 * time.Second

// Serve accepts connections until the listener is closed, then gives the
// open sessions StopGrace to end and closes the rest. An accept error is
// retried after a pause that doubles from 5 ms up to 1 s, so an error that
// persists, such as too many open files, neither spins nor floods the log.
func (d *Daemon) Serve() error {
	var pause time.Duration
	for {
		c, err := d.Listener.AcceptUnix()
		if errors.Is(err, net.ErrClosed) {
			d.drain()
			return nil
		}
		if err != nil {
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			if pause == time.Second || pause == 5*time.Millisecond {
				d.Log.Error().Err(err).Str("socket", d.Path).Dur("retry_in", pause).Msg("accept failed")
			}
			time.Sleep(pause)
			continue
		}
		pause = 0
		d.track(c, true)
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			defer d.track(c, false)
			d.serveConn(c)
		}()
	}
}

func (d *Daemon) track(c *net.UnixConn, open bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conns == nil {
		d.conns = map[*net.UnixConn]struct{}{}
	}
	if open {
		d.conns[c] = struct{}{}
	} else {
		delete(d.conns, c)
	}
}

// drain waits StopGrace for open sessions, then closes their connections.
func (d *Daemon) drain() {
	done := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-time.After(StopGrace):
	}
	d.mu.Lock()
	d.Log.Info().Int("sessions", len(d.conns)).Msg("closing sessions still open at stop")
	for c := range d.conns {
		c.Close()
	}
	d.mu.Unlock()
	<-done
}

func (d *Daemon) serveConn(c *net.UnixConn) {
	conn := protocol.NewConn(c)
	defer conn.Close()
	peer, err := peercred.Of(c)
	if err != nil {
		d.Log.Error().Err(err).Msg("dropped client: no peer credentials")
		return
	}
	limits := d.Policy().Limits
	if n := d.active.Add(1); n > int64(limits.MaxPeers) {
		d.active.Add(-1)
		d.mu.Lock()
		ev := d.drops.event(&d.Log, time.Now())
		d.mu.Unlock()
		if ev != nil {
			ev.Uint32("peer_uid", peer.UID).Uint32("peer_gid", peer.GID).Int32("peer_pid", peer.PID).Int("max_peers", limits.MaxPeers).Msg("dropped client: too many peers")
		}
		conn.Write(&protocol.Error{Code: protocol.CodeLimit, Index: protocol.NoIndex,
			Message: fmt.Sprintf("the helper already serves max_peers %d connections: retry later, or raise max_peers in [limits] of the policy", limits.MaxPeers)}, nil)
		return
	}
	defer d.active.Add(-1)
	if !d.takeUIDSlot(peer.UID, limits.MaxPeersPerUID) {
		d.mu.Lock()
		ev := d.drops.event(&d.Log, time.Now())
		d.mu.Unlock()
		if ev != nil {
			ev.Uint32("peer_uid", peer.UID).Uint32("peer_gid", peer.GID).Int32("peer_pid", peer.PID).Int("max_peers_per_uid", limits.MaxPeersPerUID).Msg("dropped client: too many connections of this uid")
		}
		conn.Write(&protocol.Error{Code: protocol.CodeLimit, Index: protocol.NoIndex,
			Message: fmt.Sprintf("uid %d already holds max_peers_per_uid %d connections: close one, or raise max_peers_per_uid in [limits] of the policy", peer.UID, limits.MaxPeersPerUID)}, nil)
		return
	}
	defer d.releaseUIDSlot(peer.UID)
	conn.SetFrameTimeout(limits.FrameTimeout)
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

// takeUIDSlot counts one more connection of uid, unless uid holds max.
func (d *Daemon) takeUIDSlot(uid uint32, max int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.perUID == nil {
		d.perUID = map[uint32]int{}
	}
	if max > 0 && d.perUID[uid] >= max {
		return false
	}
	d.perUID[uid]++
	return true
}

func (d *Daemon) releaseUIDSlot(uid uint32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.perUID[uid]--; d.perUID[uid] <= 0 {
		delete(d.perUID, uid)
	}
}

// Close stops accepting; sessions in progress run to their end.
func (d *Daemon) Close() error {
	return d.Listener.Close()
}

// Active returns the number of connections being served.
func (d *Daemon) Active() int { return int(d.active.Load()) }
