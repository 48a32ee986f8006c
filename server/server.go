package server

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"
)

// Server runs the services of a Config until its context ends.
type Server struct {
	Config *Config
	Client *Client
	Log    zerolog.Logger

	// Manager runs the services; Run creates it.
	Manager *Manager
}

// Run acquires every service's sockets, starts the services, and stops
// them all when ctx ends. A service whose sockets cannot be acquired stops
// the start: services already started are stopped again and Run returns
// the error.
func (s *Server) Run(ctx context.Context) error {
	s.Manager = &Manager{Client: s.Client, Log: s.Log, DrainTimeout: s.Config.ShutdownTimeout.Duration}
	for _, sc := range s.Config.Services {
		if err := s.Manager.Add(ctx, sc); err != nil {
			s.Manager.StopAll()
			return err
		}
	}
	s.Log.Info().Int("services", len(s.Config.Services)).Str("helper_mechanism", s.Client.Mechanism()).Msg("server ready")
	<-ctx.Done()
	if err := s.Manager.StopAll(); err != nil {
		return fmt.Errorf("stop services: %w", err)
	}
	return nil
}
