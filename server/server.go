package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"
)

// Server runs the services of a Config until its context ends.
type Server struct {
	Config *Config
	Client *Client
	Log    zerolog.Logger

	running []running
}

type running struct {
	name   string
	runner Runner
}

// Run acquires every service's sockets, starts the services, and stops
// them all when ctx ends. A service whose sockets cannot be acquired stops
// the start: services already started are stopped again and Run returns
// the error.
func (s *Server) Run(ctx context.Context) error {
	for _, sc := range s.Config.Services {
		if err := s.start(ctx, sc); err != nil {
			s.stopAll()
			return err
		}
	}
	s.Log.Info().Int("services", len(s.running)).Str("helper_mechanism", s.Client.Mechanism()).Msg("server ready")
	<-ctx.Done()
	return s.stopAll()
}

func (s *Server) start(ctx context.Context, sc ServiceConfig) error {
	log := s.Log.With().Str("service", sc.Name).Str("kind", sc.Kind).Logger()
	socks, err := s.Client.Acquire(ctx, sc.Endpoints())
	if err != nil {
		log.Error().Err(err).Msg("acquire sockets failed")
		return fmt.Errorf("service %q: %w", sc.Name, err)
	}
	r, err := kinds[sc.Kind](ServiceInfo{Config: sc, Sockets: socks, Log: log})
	if err == nil {
		err = r.Start()
	}
	if err != nil {
		for i := range socks {
			socks[i].Close()
		}
		log.Error().Err(err).Msg("start failed")
		return fmt.Errorf("service %q: %w", sc.Name, err)
	}
	for _, sock := range socks {
		log.Info().Str("address", sock.LocalAddr().String()).Str("network", sock.Endpoint.Network).Bool("from_helper", sock.FromHelper).Msg("listener added")
	}
	log.Info().Msg("service started")
	s.running = append(s.running, running{sc.Name, r})
	return nil
}

// stopAll stops the services in reverse order of start, each within the
// shutdown timeout.
func (s *Server) stopAll() error {
	timeout := s.Config.ShutdownTimeout.Duration
	if timeout == 0 {
		timeout = DefaultShutdownTimeout
	}
	var errs []error
	for i := len(s.running) - 1; i >= 0; i-- {
		r := s.running[i]
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := r.runner.Stop(ctx)
		cancel()
		if err != nil {
			s.Log.Error().Err(err).Str("service", r.name).Msg("stop did not finish cleanly")
			errs = append(errs, fmt.Errorf("stop service %q: %w", r.name, err))
			continue
		}
		s.Log.Info().Str("service", r.name).Msg("service stopped")
	}
	s.running = nil
	return errors.Join(errs...)
}
