package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"
)

// Server runs the services of a Config until its context ends.
type Server struct {
	Config *Config
	// ConfigPath is the file Config came from, or "" for the built-in
	// default.
	ConfigPath string
	Client     *Client
	Log        zerolog.Logger

	// Manager runs the services; Run creates it.
	Manager *Manager
	local   *LocalManager
	// executable is the server's binary as Run found it, which an upgrade
	// runs again.
	executable string
	// servicesFile keeps the services added with portgate ctl, or is
	// empty to keep them in memory only.
	servicesFile string
}

// Run acquires every service's sockets, starts the services and the Local
// Manager, and stops them all when ctx ends or after SIGUSR2 handed them
// to a successor (see upgrade). SIGHUP reloads the config. A service whose sockets
// cannot be acquired stops the start: services already started are
// stopped again and Run returns the error.
func (s *Server) Run(ctx context.Context) error {
	// Adoption comes first, before the server opens a descriptor or
	// starts a child.
	inherited, _ := Adopt(s.Log)
	nextNotify, upgraded := takeUpgradeNotify()
	// SIGHUP and SIGUSR2 that arrive while the services start wait until
	// the server is ready, instead of ending it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	usr2 := make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	defer signal.Stop(usr2)
	s.executable, _ = os.Executable()
	s.Manager = &Manager{Client: s.Client, Log: s.Log, Inherited: inherited}
	s.Manager.SetDrainTimeout(s.Config.ShutdownTimeout.Duration)
	managed, err := s.loadManaged()
	if err != nil {
		inherited.Release(s.Log)
		return err
	}
	for _, sc := range s.Config.Services {
		if err := s.Manager.Add(ctx, sc); err != nil {
			inherited.Release(s.Log)
			s.Manager.StopAll()
			return err
		}
	}
	inherited.Release(s.Log)
	if err := s.startLocalManager(managed); err != nil {
		s.Manager.StopAll()
		return err
	}
	mechanism := s.Client.Mechanism()
	if mechanism == "" {
		mechanism = "none: no helper needed so far"
	}
	s.Log.Info().Int("services", len(s.Config.Services)).Str("helper_mechanism", mechanism).Msg("server ready")
	notifyReady(s.Log)
	restoreNotifySocket(nextNotify, upgraded)
	for waiting := true; waiting; {
		select {
		case <-hup:
			s.Reload(ctx)
		case <-usr2:
			waiting = s.upgrade() != nil
		case <-ctx.Done():
			waiting = false
		}
	}
	if s.local != nil {
		s.local.Close()
	}
	if err := s.Manager.StopAll(); err != nil {
		return fmt.Errorf("stop services: %w", err)
	}
	return nil
}

// loadManaged adds the services of the services file to the config and
// returns their names.
func (s *Server) loadManaged() ([]string, error) {
	svcs, path, err := s.readManaged(s.Config)
	if err != nil {
		return nil, err
	}
	s.servicesFile = path
	if err := s.Config.AddManaged(path, svcs); err != nil {
		return nil, err
	}
	names := make([]string, len(svcs))
	for i, sc := range svcs {
		names[i] = sc.Name
	}
	return names, nil
}

// readManaged reads the services file of cfg and returns its services and
// path. The path is empty when services added with portgate ctl are kept
// in memory only: without a config file, with the Local Manager disabled,
// or when the config has no [manager] table and the default file cannot
// be read, which is then logged. With a [manager] table, an unreadable
// file is an error.
func (s *Server) readManaged(cfg *Config) ([]ServiceConfig, string, error) {
	mc := cfg.Manager
	if mc.Disabled || s.ConfigPath == "" {
		return nil, "", nil
	}
	path := mc.ServicesPath()
	svcs, err := LoadServicesFile(path)
	if err != nil && !cfg.ManagerSet && errors.Is(err, fs.ErrPermission) {
		s.Log.Warn().Err(err).Str("services_file", path).Msg("services added with portgate ctl are kept in memory only: set services_file in a [manager] table to keep them")
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	return svcs, path, nil
}

// startLocalManager starts the Local Manager unless the config disables
// it. Without a [manager] table in the config, a socket that cannot be
// created is logged and the server runs without the Local Manager. With
// the table, that failure stops the start.
func (s *Server) startLocalManager(managed []string) error {
	mc := s.Config.Manager
	if mc.Disabled {
		return nil
	}
	access, err := NewAccess(mc.Users, mc.Groups)
	if err != nil {
		return err
	}
	lm := &LocalManager{Manager: s.Manager, Client: s.Client, Log: s.Log, Access: access, ConfigPath: s.ConfigPath}
	lm.ServicesFile = s.servicesFile
	lm.SetManaged(managed)
	if err := lm.Listen(mc.SocketPath()); err != nil {
		if s.Config.ManagerSet {
			return fmt.Errorf("start the Local Manager: %w", err)
		}
		s.Log.Warn().Err(err).Str("socket", mc.SocketPath()).Msg("running without the Local Manager: create the socket's directory, writable by this account (systemd: RuntimeDirectory=portgate), or name a socket path there in a [manager] table")
		return nil
	}
	s.local = lm
	return nil
}
