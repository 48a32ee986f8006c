package server

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"time"

	"github.com/BurntSushi/toml"
)

// DefaultShutdownTimeout bounds a graceful stop when the config sets none.
const DefaultShutdownTimeout = 10 * time.Second

// Config is the server's configuration file.
type Config struct {
	// Helper is the path of portgate-helper; empty means DefaultHelperPath.
	Helper string `toml:"helper"`
	// HelperSocket is the socket of a portgate-helper daemon. When set the
	// server asks that daemon and never starts a helper of its own.
	HelperSocket string `toml:"helper_socket"`
	// ShutdownTimeout bounds how long open connections may drain on stop.
	ShutdownTimeout Duration        `toml:"shutdown_timeout"`
	Services        []ServiceConfig `toml:"service"`
	// Manager configures the Local Manager; ManagerSet tells whether the
	// file has a [manager] table.
	Manager    ManagerConfig `toml:"manager"`
	ManagerSet bool          `toml:"-"`
}

// ServiceConfig is one [[service]] table.
type ServiceConfig struct {
	Name string `toml:"name" json:"name"`
	// Kind is "http", "echo", "proxy" or "exec".
	Kind string `toml:"kind" json:"kind"`
	// Listen holds listen URLs such as tcp://:80 or udp://127.0.0.1:7.
	Listen []string `toml:"listen" json:"listen"`
	// Root is the directory an http service serves; empty serves the
	// built-in welcome page.
	Root string `toml:"root,omitempty" json:"root,omitempty"`
	// Command is the program and arguments an exec service runs.
	Command []string `toml:"command,omitempty" json:"command,omitempty"`
	// Backend is the host:port a proxy service relays TCP connections to.
	Backend string `toml:"backend,omitempty" json:"backend,omitempty"`
	// DrainTimeout bounds how long open connections may finish when the
	// service stops; zero means the server's shutdown_timeout.
	DrainTimeout Duration `toml:"drain_timeout,omitempty" json:"drain_timeout,omitzero"`
}

// Equal reports whether two service configs are the same.
func (s ServiceConfig) Equal(o ServiceConfig) bool {
	return reflect.DeepEqual(s, o)
}

// sameExceptListen reports whether s and o differ at most in their listen
// addresses.
func (s ServiceConfig) sameExceptListen(o ServiceConfig) bool {
	s.Listen, o.Listen = nil, nil
	return reflect.DeepEqual(s, o)
}

// Duration is a time.Duration written as a string such as "10s" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: want a value such as \"10s\" or \"1m30s\"", b)
	}
	d.Duration = v
	return nil
}

// MarshalText formats d as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// DefaultConfig is the built-in configuration: one http service on port 80
// serving the welcome page.
func DefaultConfig() *Config {
	return &Config{Services: []ServiceConfig{{Name: "welcome", Kind: "http", Listen: []string{"tcp://:80"}}}}
}

// LoadConfig reads and checks the config file at path.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := ParseConfig(string(data))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig decodes and checks config text. Unknown keys are errors, so a
// misspelt setting is not silently ignored.
func ParseConfig(text string) (*Config, error) {
	var cfg Config
	md, err := toml.Decode(text, &cfg)
	if err != nil {
		return nil, err
	}
	if un := md.Undecoded(); len(un) > 0 {
		return nil, fmt.Errorf("unknown key %q", un[0].String())
	}
	cfg.ManagerSet = md.IsDefined("manager")
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// Check validates every service: a unique name, a known kind, listen URLs
// that parse (at least one, except for kind exec), and the settings its
// kind needs.
func (c *Config) Check() error {
	if c.ShutdownTimeout.Duration < 0 {
		return errors.New("shutdown_timeout must not be negative")
	}
	seen := map[string]bool{}
	for i, s := range c.Services {
		if s.Name == "" {
			return fmt.Errorf("service %d has no name", i+1)
		}
		if err := checkName(s.Name); err != nil {
			return err
		}
		if seen[s.Name] {
			return fmt.Errorf("service %q is defined twice", s.Name)
		}
		seen[s.Name] = true
		if err := s.check(); err != nil {
			return fmt.Errorf("service %q: %w", s.Name, err)
		}
	}
	return nil
}

// checkName accepts names that fit in LISTEN_FDNAMES and in a URL path:
// letters, digits, '.', '_' and '-', at most 64, starting with a letter
// or digit.
func checkName(name string) error {
	ok := len(name) > 0 && len(name) <= 64
	for i, r := range name {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		ok = ok && (alnum || i > 0 && (r == '.' || r == '_' || r == '-'))
	}
	if !ok {
		return fmt.Errorf("service name %q is invalid: use up to 64 letters, digits, '.', '_' and '-', starting with a letter or digit", name)
	}
	return nil
}

func (s *ServiceConfig) check() error {
	if err := checkName(s.Name); err != nil {
		return err
	}
	if _, ok := kinds[s.Kind]; !ok {
		return fmt.Errorf("unknown kind %q: use %s", s.Kind, kindNames())
	}
	// An exec child may take no socket at all: it then gets no LISTEN_*
	// variable.
	if len(s.Listen) == 0 && s.Kind != "exec" {
		return errors.New("no listen addresses: add listen = [\"tcp://:80\"]")
	}
	for _, l := range s.Listen {
		if _, err := ParseEndpoint(l); err != nil {
			return err
		}
	}
	if s.Kind != "http" && s.Root != "" {
		return fmt.Errorf("root is a setting of kind http, not %s", s.Kind)
	}
	if err := s.checkBackend(); err != nil {
		return err
	}
	if s.Kind == "exec" && len(s.Command) == 0 {
		return errors.New("kind exec needs a command: add command = [\"/usr/sbin/daemon\", \"--flag\"]")
	}
	if s.Kind != "exec" && len(s.Command) > 0 {
		return fmt.Errorf("command is a setting of kind exec, not %s", s.Kind)
	}
	if s.DrainTimeout.Duration < 0 {
		return errors.New("drain_timeout must not be negative")
	}
	return nil
}

func (s *ServiceConfig) checkBackend() error {
	if s.Kind != "proxy" {
		if s.Backend != "" {
			return fmt.Errorf("backend is a setting of kind proxy, not %s", s.Kind)
		}
		return nil
	}
	if s.Backend == "" {
		return errors.New("kind proxy needs a backend: add backend = \"127.0.0.1:8080\"")
	}
	if _, _, err := splitPort(s.Backend); err != nil {
		return fmt.Errorf("backend %q: want HOST:PORT: %w", s.Backend, err)
	}
	return nil
}

// Endpoints returns the parsed listen URLs.
func (s *ServiceConfig) Endpoints() []Endpoint {
	eps := make([]Endpoint, 0, len(s.Listen))
	for _, l := range s.Listen {
		e, _ := ParseEndpoint(l)
		eps = append(eps, e)
	}
	return eps
}
