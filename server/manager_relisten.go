package server

import (
	"context"
	"fmt"
	"slices"

	"github.com/portgate/portgate/protocol"
)

// relisten changes the listen addresses of the running service s to those
// of sc. Sockets of addresses in both sets stay open and keep serving.
//
// New addresses are bound first and old ones closed after, so that a
// change between unrelated addresses has no gap. The kernel rejects that
// bind when an old socket listens on the same port and transport, as in
// 0.0.0.0:8443 to 127.0.0.1:8443 or [::]:8443 to [::1]:8443. relisten
// then closes those old sockets first and binds the new ones, so
// connections to that port are refused for as long as the bind takes. If
// the bind still fails, relisten binds the old addresses again, returns
// the error, and the service keeps its old addresses. Only when that
// rebind fails too, because another process took the port in the gap, is
// the service left without those sockets. It is then marked failed if it
// has no socket at all.
func (m *Manager) relisten(ctx context.Context, s *service, sc ServiceConfig) error {
	log := m.Log.With().Str("service", sc.Name).Logger()
	s.mu.Lock()
	held, r := s.sockets, s.runner
	s.mu.Unlock()

	newEps := sc.Endpoints()
	var keep, drop []heldSocket
	for _, h := range held {
		if slices.Contains(newEps, h.Endpoint) {
			keep = append(keep, h)
		} else {
			drop = append(drop, h)
		}
	}
	var add []Endpoint
	for _, e := range newEps {
		if !slices.ContainsFunc(held, func(h heldSocket) bool { return h.Endpoint == e }) {
			add = append(add, e)
		}
	}

	added, err := m.Client.Acquire(ctx, add)
	var released []heldSocket
	if err != nil {
		var rest []heldSocket
		released, rest = splitOverlapping(drop, add)
		if len(released) == 0 {
			return fmt.Errorf("change listen addresses of service %q: %w; the old addresses keep serving", sc.Name, err)
		}
		log.Info().Err(err).Int("released", len(released)).Msg("new address overlaps an old one: closing the old socket before binding")
		for _, h := range released {
			h.Close()
			logListener(log.Info(), h).Msg("listener removed")
		}
		drop = rest
		added, err = m.Client.Acquire(ctx, add)
		if err != nil {
			return m.restoreReleased(ctx, s, r, keep, drop, released, err)
		}
	}

	for _, sock := range added {
		if serr := r.Serve(sock); serr != nil {
			closeSockets(added)
			return fmt.Errorf("change listen addresses of service %q: %w", sc.Name, serr)
		}
		logListener(log.Info(), heldSocket{Socket: sock}).Msg("listener added")
	}
	for _, h := range drop {
		h.Close()
		logListener(log.Info(), h).Msg("listener removed")
	}
	next := append(keep, make([]heldSocket, 0, len(added))...)
	for _, sock := range added {
		next = append(next, heldSocket{Socket: sock})
	}
	s.mu.Lock()
	s.config = sc
	s.sockets = next
	s.mu.Unlock()
	log.Info().Strs("listen", sc.Listen).Msg("service listen addresses changed")
	return nil
}

// restoreReleased binds the addresses of released sockets again after a
// failed change and serves them, so that s keeps its old addresses.
func (m *Manager) restoreReleased(ctx context.Context, s *service, r Runner, keep, drop, released []heldSocket, cause error) error {
	name := s.config.Name
	eps := make([]Endpoint, len(released))
	for i, h := range released {
		eps[i] = h.Endpoint
	}
	back, err := m.Client.Acquire(ctx, eps)
	remaining := append(keep, drop...)
	if err == nil {
		for _, sock := range back {
			r.Serve(sock)
			remaining = append(remaining, heldSocket{Socket: sock})
			logListener(m.Log.Info().Str("service", name), heldSocket{Socket: sock}).Msg("listener added")
		}
	}
	s.mu.Lock()
	s.sockets = remaining
	s.mu.Unlock()
	if err == nil {
		return fmt.Errorf("change listen addresses of service %q: %w; the old addresses were bound again and keep serving", name, cause)
	}
	err = fmt.Errorf("change listen addresses of service %q: %w; binding the old addresses again failed too: %w", name, cause, err)
	if len(remaining) == 0 {
		s.setState(StateFailed, err)
	}
	m.Log.Error().Err(err).Str("service", name).Int("listeners", len(remaining)).Msg("listen address change failed")
	return err
}

// splitOverlapping splits held into the sockets that share a port and a
// transport with one of eps, and the rest.
func splitOverlapping(held []heldSocket, eps []Endpoint) (overlap, rest []heldSocket) {
	for _, h := range held {
		if slices.ContainsFunc(eps, func(e Endpoint) bool { return sharesPort(h.Endpoint, e) }) {
			overlap = append(overlap, h)
		} else {
			rest = append(rest, h)
		}
	}
	return overlap, rest
}

func sharesPort(a, b Endpoint) bool {
	na, erra := protocol.ParseNetwork(a.Network)
	nb, errb := protocol.ParseNetwork(b.Network)
	if erra != nil || errb != nil || na.Stream() != nb.Stream() {
		return false
	}
	_, pa, erra := splitPort(a.Address)
	_, pb, errb := splitPort(b.Address)
	return erra == nil && errb == nil && pa == pb && pa != 0
}

func closeSockets(socks []Socket) {
	for i := range socks {
		socks[i].Close()
	}
}
