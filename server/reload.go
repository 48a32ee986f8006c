package server

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
)

// Reload reads the config file and the services file again and applies
// them by mark and sweep: a service whose definition did not change keeps
// running on its sockets untouched, a changed one is updated as
// Manager.Update does, a new one is added, and one that is gone is
// removed. A config that does not parse changes nothing. Errors of single
// services are logged and returned together; the other services are
// still applied.
func (s *Server) Reload(ctx context.Context) error {
	if s.ConfigPath == "" {
		s.Log.Warn().Msg("reload requested, but the server runs the built-in config: nothing to reload")
		return nil
	}
	log := s.Log.With().Str("config", s.ConfigPath).Logger()
	cfg, err := LoadConfig(s.ConfigPath)
	var svcs []ServiceConfig
	var path string
	if err == nil && (cfg.ManagerSet != s.Config.ManagerSet || !reflect.DeepEqual(cfg.Manager, s.Config.Manager)) {
		// Moving a live socket and its services file under running
		// clients has no safe middle state; a successor starts clean.
		log.Warn().Msg("the [manager] table changed: the Local Manager keeps its socket, access list and services file; restart the server or upgrade it with SIGUSR2 to apply the change")
		cfg.Manager, cfg.ManagerSet = s.Config.Manager, s.Config.ManagerSet
	}
	if err == nil {
		svcs, path, err = s.readManaged(cfg)
	}
	if err == nil {
		err = cfg.AddManaged(path, svcs)
	}
	if err == nil && s.local != nil {
		names := make([]string, len(svcs))
		for i, sc := range svcs {
			names[i] = sc.Name
		}
		s.local.SetManaged(names)
	}
	if err != nil {
		err = fmt.Errorf("reload: %w: the running services are unchanged", err)
		log.Error().Err(err).Msg("reload failed")
		return err
	}
	s.Manager.SetDrainTimeout(cfg.ShutdownTimeout.Duration)

	var errs []error
	kept, changed, added, removed := 0, 0, 0, 0
	current := s.Manager.Configs()
	for _, old := range current {
		if !slices.ContainsFunc(cfg.Services, func(sc ServiceConfig) bool { return sc.Name == old.Name }) {
			if err := s.Manager.Remove(old.Name); err != nil && !errors.Is(err, ErrServiceNotFound) {
				errs = append(errs, err)
			}
			removed++
		}
	}
	for _, sc := range cfg.Services {
		i := slices.IndexFunc(current, func(old ServiceConfig) bool { return old.Name == sc.Name })
		var err error
		switch {
		case i < 0:
			err = s.Manager.AddOrFail(ctx, sc)
			added++
		case current[i].Equal(sc):
			kept++
		default:
			err = s.Manager.Update(ctx, sc)
			changed++
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	s.Config = cfg
	err = errors.Join(errs...)
	ev := log.Info()
	if err != nil {
		ev = log.Error().Err(err)
	}
	ev.Int("kept", kept).Int("changed", changed).Int("added", added).Int("removed", removed).Msg("config reloaded")
	return err
}
