package server

import (
	"os"
	"path/filepath"
	"strings"
)

// ManagerConfig is the [manager] table: where the Local Manager listens,
// who may use it, and where services added through it are kept.
type ManagerConfig struct {
	// Socket is the path of the Local Manager's Unix socket; empty means
	// DefaultManagerSocket().
	Socket string `toml:"socket"`
	// Users may use the Local Manager besides the server's own account and
	// root: account names or numeric uids.
	Users []string `toml:"users"`
	// Groups may use the Local Manager: group names or numeric gids,
	// matched against the peer's gid and supplementary groups.
	Groups []string `toml:"groups"`
	// ServicesFile keeps the services added with portgate ctl; empty means
	// DefaultServicesFile(). The operator's config file is never rewritten.
	ServicesFile string `toml:"services_file"`
	// Disabled turns the Local Manager off.
	Disabled bool `toml:"disabled"`
}

// DefaultManagerSocket returns manager.sock in the first directory of
// $RUNTIME_DIRECTORY, which systemd sets for RuntimeDirectory=, or in
// /run/portgate.
func DefaultManagerSocket() string {
	return filepath.Join(firstDir(os.Getenv("RUNTIME_DIRECTORY"), "/run/portgate"), "manager.sock")
}

// DefaultServicesFile returns services.toml in the first directory of
// $STATE_DIRECTORY, which systemd sets for StateDirectory=, or in
// /var/lib/portgate.
func DefaultServicesFile() string {
	return filepath.Join(firstDir(os.Getenv("STATE_DIRECTORY"), "/var/lib/portgate"), "services.toml")
}

// firstDir returns the first entry of a colon-separated list of
// directories, or fallback when the list is empty.
func firstDir(list, fallback string) string {
	first, _, _ := strings.Cut(list, ":")
	if first == "" {
		return fallback
	}
	return first
}

// SocketPath returns the configured socket path or the default.
func (c ManagerConfig) SocketPath() string {
	if c.Socket != "" {
		return c.Socket
	}
	return DefaultManagerSocket()
}

// ServicesPath returns the configured services file or the default.
func (c ManagerConfig) ServicesPath() string {
	if c.ServicesFile != "" {
		return c.ServicesFile
	}
	return DefaultServicesFile()
}
