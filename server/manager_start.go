package server

import (
	"context"
	"fmt"
	"time"
)

// start acquires the sockets of s and starts its kind. On failure no
// socket stays open and s is left failed with the error. The caller holds
// s.op.
func (m *Manager) start(ctx context.Context, s *service) error {
	s.setState(StateStarting, nil)
	s.mu.Lock()
	sc := s.config
	s.mu.Unlock()
	log := m.Log.With().Str("service", sc.Name).Str("kind", sc.Kind).Logger()

	held, err := m.acquire(ctx, sc)
	if err != nil {
		err = fmt.Errorf("service %q: %w", sc.Name, err)
		log.Error().Err(err).Msg("acquire sockets failed")
		s.setState(StateFailed, err)
		return err
	}
	socks := make([]Socket, len(held))
	for i, h := range held {
		socks[i] = h.Socket
	}
	r, err := kinds[sc.Kind](ServiceInfo{Config: sc, Sockets: socks, Log: log})
	if err == nil {
		err = r.Start()
	}
	if err != nil {
		closeHeld(held)
		err = fmt.Errorf("service %q: start: %w", sc.Name, err)
		log.Error().Err(err).Msg("start failed")
		s.setState(StateFailed, err)
		return err
	}
	for _, h := range held {
		logListener(log.Info(), h).Msg("listener added")
	}
	s.mu.Lock()
	s.sockets = held
	s.runner = r
	s.mu.Unlock()
	s.setState(StateRunning, nil)
	log.Info().Int("listeners", len(held)).Msg("service started")
	return nil
}

// acquire takes the inherited sockets that match sc and acquires the rest
// of its endpoints from Client, all or none.
func (m *Manager) acquire(ctx context.Context, sc ServiceConfig) ([]heldSocket, error) {
	eps := sc.Endpoints()
	held := make([]heldSocket, len(eps))
	// Endpoints with a port go first, so that one with port 0, which
	// takes any port of its service's sockets, cannot take theirs.
	for _, anyPort := range []bool{false, true} {
		for i, e := range eps {
			if isPortZero(e) != anyPort {
				continue
			}
			if sock, ok := m.Inherited.take(ctx, sc.Name, e); ok {
				held[i] = heldSocket{Socket: sock, inherited: true}
			}
		}
	}
	var rest []Endpoint
	var restIdx []int
	for i, e := range eps {
		if !held[i].inherited {
			rest = append(rest, e)
			restIdx = append(restIdx, i)
		}
	}
	if len(rest) == 0 {
		return held, nil
	}
	socks, err := m.Client.Acquire(ctx, rest)
	if err != nil {
		for i := range held {
			if held[i].inherited {
				m.Inherited.giveBack(sc.Name, held[i].Socket)
			}
		}
		return nil, err
	}
	for j, i := range restIdx {
		held[i] = heldSocket{Socket: socks[j]}
	}
	return held, nil
}

// stop closes the sockets of s, drains its open connections within the
// drain timeout and leaves s stopped. The caller holds s.op.
func (m *Manager) stop(s *service) error {
	s.mu.Lock()
	if s.state != StateRunning && s.state != StateFailed {
		s.mu.Unlock()
		return nil
	}
	r, held, name, kind := s.runner, s.sockets, s.config.Name, s.config.Kind
	drain := m.drainTimeout(s.config)
	s.state, s.since = StateStopping, time.Now()
	s.mu.Unlock()
	log := m.Log.With().Str("service", name).Logger()

	var err error
	if r != nil {
		ctx, cancel := context.WithTimeout(context.Background(), drain)
		err = r.Stop(ctx)
		cancel()
	}
	// The runner closed them already; closing again only makes sure.
	closeHeld(held)
	for _, h := range held {
		logListener(log.Info(), h).Msg("listener removed")
	}
	s.mu.Lock()
	s.runner, s.sockets = nil, nil
	s.mu.Unlock()
	s.setState(StateStopped, nil)
	if err != nil {
		cause := "open connections did not finish within the drain timeout of %s and were closed"
		if kind == "exec" {
			cause = "the child did not exit within the drain timeout of %s after SIGTERM and was killed"
		}
		err = fmt.Errorf("stop service %q: "+cause+": %w", name, drain, err)
		log.Warn().Err(err).Dur("drain_timeout", drain).Msg("service stopped")
		return err
	}
	log.Info().Msg("service stopped")
	return nil
}

func (m *Manager) drainTimeout(sc ServiceConfig) time.Duration {
	m.mu.Lock()
	drain := m.drain
	m.mu.Unlock()
	switch {
	case sc.DrainTimeout.Duration > 0:
		return sc.DrainTimeout.Duration
	case drain > 0:
		return drain
	}
	return DefaultShutdownTimeout
}

func isPortZero(e Endpoint) bool {
	_, port, err := splitPort(e.Address)
	return err == nil && port == 0
}

func closeHeld(held []heldSocket) {
	for _, h := range held {
		if h.Listener != nil || h.PacketConn != nil {
			h.Close()
		}
	}
}
