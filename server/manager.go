package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Errors of Manager operations, for errors.Is. The Local Manager maps them
// to HTTP status codes.
var (
	ErrServiceNotFound = errors.New("no such service")
	ErrServiceExists   = errors.New("service already exists")
)

// Manager runs services and adds, starts, stops, changes and removes them
// while the others keep serving. Each service owns its sockets: nothing
// else in the process holds them. A Manager is safe for concurrent use.
// Operations on one service run one at a time; operations on different
// services run in parallel.
type Manager struct {
	Client *Client
	Log    zerolog.Logger
	// Inherited holds the sockets this process inherited at start. A
	// service takes the ones that match it before it asks Client for the
	// rest. It may be nil.
	Inherited *Inherited

	mu       sync.Mutex
	services map[string]*service
	order    []string
	// drain bounds how long a stopping service lets open connections
	// finish when its config sets no drain_timeout; 0 means
	// DefaultShutdownTimeout.
	drain time.Duration
}

// SetDrainTimeout sets the drain timeout of services whose config sets
// none; 0 means DefaultShutdownTimeout.
func (m *Manager) SetDrainTimeout(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.drain = d
}

// Add adds the service sc and starts it: it acquires every listen address
// as one step, so that on any failure no socket stays bound, and the
// service is not added. The error then names the address.
func (m *Manager) Add(ctx context.Context, sc ServiceConfig) error {
	return m.add(ctx, sc, false)
}

// AddOrFail is Add, except that a service that fails to start stays in
// the Manager in the failed state with its error, for a config that
// lists it: the operator sees it with portgate ctl and can start it.
func (m *Manager) AddOrFail(ctx context.Context, sc ServiceConfig) error {
	return m.add(ctx, sc, true)
}

func (m *Manager) add(ctx context.Context, sc ServiceConfig, keepFailed bool) error {
	if err := sc.check(); err != nil {
		return fmt.Errorf("service %q: %w", sc.Name, err)
	}
	s := &service{config: sc, state: StateStarting, since: time.Now()}
	m.mu.Lock()
	if m.services == nil {
		m.services = map[string]*service{}
	}
	if _, ok := m.services[sc.Name]; ok {
		m.mu.Unlock()
		return fmt.Errorf("add service %q: %w: remove it first or pick another name", sc.Name, ErrServiceExists)
	}
	m.services[sc.Name] = s
	m.order = append(m.order, sc.Name)
	s.op.Lock()
	m.mu.Unlock()
	defer s.op.Unlock()

	if err := m.start(ctx, s); err != nil {
		if !keepFailed {
			m.forget(s)
		}
		return err
	}
	return nil
}

// Start starts a stopped or failed service. Starting a running service
// does nothing.
func (m *Manager) Start(ctx context.Context, name string) error {
	s, err := m.lockService(name)
	if err != nil {
		return err
	}
	defer s.op.Unlock()
	if s.current() == StateRunning {
		return nil
	}
	return m.start(ctx, s)
}

// Stop stops a service and keeps it in the Manager: it closes the
// service's sockets at once, so new connections are refused, lets open
// ones finish within the drain timeout, and closes those that remain.
// Stopping a stopped service does nothing.
func (m *Manager) Stop(name string) error {
	s, err := m.lockService(name)
	if err != nil {
		return err
	}
	defer s.op.Unlock()
	return m.stop(s)
}

// Remove stops a service as Stop does and then removes it.
func (m *Manager) Remove(name string) error {
	s, err := m.lockService(name)
	if err != nil {
		return err
	}
	defer s.op.Unlock()
	err = m.stop(s)
	m.forget(s)
	m.Log.Info().Str("service", name).Msg("service removed")
	return err
}

// Update replaces the config of the service named sc.Name. When only the
// listen addresses change on a running service, it keeps the sockets of
// addresses in both sets and serves on, see relisten. Any other change
// restarts the service, and if the new config cannot start, the old one
// starts again and Update returns the error.
func (m *Manager) Update(ctx context.Context, sc ServiceConfig) error {
	if err := sc.check(); err != nil {
		return fmt.Errorf("service %q: %w", sc.Name, err)
	}
	s, err := m.lockService(sc.Name)
	if err != nil {
		return err
	}
	defer s.op.Unlock()

	s.mu.Lock()
	old := s.config
	running := s.state == StateRunning
	s.mu.Unlock()
	if old.Equal(sc) {
		return nil
	}
	if !running {
		s.mu.Lock()
		s.config = sc
		s.mu.Unlock()
		return nil
	}
	if old.sameExceptListen(sc) && sc.Kind != "exec" {
		return m.relisten(ctx, s, sc)
	}
	if err := m.stop(s); err != nil {
		m.Log.Warn().Err(err).Str("service", sc.Name).Msg("stop before update did not drain cleanly")
	}
	s.mu.Lock()
	s.config = sc
	s.mu.Unlock()
	err = m.start(ctx, s)
	if err == nil {
		return nil
	}
	s.mu.Lock()
	s.config = old
	s.mu.Unlock()
	if rerr := m.start(ctx, s); rerr != nil {
		return fmt.Errorf("%w; restarting with the old config also failed: %w", err, rerr)
	}
	return fmt.Errorf("%w; the service runs with its old config", err)
}

// Get returns the status of one service.
func (m *Manager) Get(name string) (ServiceStatus, error) {
	m.mu.Lock()
	s, ok := m.services[name]
	m.mu.Unlock()
	if !ok {
		return ServiceStatus{}, fmt.Errorf("service %q: %w", name, ErrServiceNotFound)
	}
	return s.status(), nil
}

// List returns the status of every service in the order they were added.
func (m *Manager) List() []ServiceStatus {
	m.mu.Lock()
	svcs := make([]*service, 0, len(m.order))
	for _, name := range m.order {
		svcs = append(svcs, m.services[name])
	}
	m.mu.Unlock()
	out := make([]ServiceStatus, 0, len(svcs))
	for _, s := range svcs {
		out = append(out, s.status())
	}
	return out
}

// Configs returns the config of every service in the order they were added.
func (m *Manager) Configs() []ServiceConfig {
	var out []ServiceConfig
	for _, st := range m.List() {
		out = append(out, st.Config)
	}
	return out
}

// StopAll stops and removes every service, all at the same time.
func (m *Manager) StopAll() error {
	m.mu.Lock()
	names := append([]string(nil), m.order...)
	m.mu.Unlock()
	// All services stop at once, so that the whole stop takes one drain
	// timeout, not one per service.
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.Remove(name); err != nil && !errors.Is(err, ErrServiceNotFound) {
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// lockService finds a service and takes its op lock.
func (m *Manager) lockService(name string) (*service, error) {
	m.mu.Lock()
	s, ok := m.services[name]
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("service %q: %w", name, ErrServiceNotFound)
	}
	s.op.Lock()
	if s.removed {
		// Removed while this caller waited for the lock.
		s.op.Unlock()
		return nil, fmt.Errorf("service %q: %w", name, ErrServiceNotFound)
	}
	return s, nil
}

// forget drops s from the Manager. The caller holds s.op.
func (m *Manager) forget(s *service) {
	s.removed = true
	m.mu.Lock()
	defer m.mu.Unlock()
	name := s.config.Name
	if m.services[name] != s {
		return
	}
	delete(m.services, name)
	for i, n := range m.order {
		if n == name {
			m.order = append(m.order[:i], m.order[i+1:]...)
			break
		}
	}
}

func (s *service) current() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}
