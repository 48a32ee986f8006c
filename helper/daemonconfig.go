package helper

import (
	"fmt"
	"os/user"
	"path/filepath"
	"strconv"
)

// DefaultDaemonSocket is the socket path of a daemon whose policy has no
// [daemon] table.
const DefaultDaemonSocket = "/run/portgate-helper/helper.sock"

// DaemonConfig is the [daemon] table of the policy: where the daemon
// listens and as whom it runs.
type DaemonConfig struct {
	// Socket is the path of the listening socket. Its directory is created
	// by the daemon and must not be shared with anything else.
	Socket string
	// SocketGID is the socket's group, or -1 to keep the daemon's own;
	// Mode is its permission bits. The daemon's uid owns the socket.
	SocketGID int
	Mode      uint32
	// User is the account a daemon started as root switches to, keeping
	// only the bind right; -1 when unset.
	UID, GID int
	UserName string
}

type daemonFile struct {
	Socket      string `toml:"socket"`
	SocketGroup string `toml:"socket_group"`
	SocketMode  string `toml:"socket_mode"`
	User        string `toml:"user"`
}

func (f *daemonFile) compile() (DaemonConfig, error) {
	d := DaemonConfig{Socket: DefaultDaemonSocket, SocketGID: -1, Mode: 0o600, UID: -1, GID: -1}
	if f == nil {
		return d, nil
	}
	if f.Socket != "" {
		if !filepath.IsAbs(f.Socket) {
			return d, fmt.Errorf("daemon: socket %q is not an absolute path", f.Socket)
		}
		d.Socket = filepath.Clean(f.Socket)
	}
	if f.SocketMode != "" {
		m, err := strconv.ParseUint(f.SocketMode, 8, 32)
		if err != nil || m&^0o660 != 0 {
			return d, fmt.Errorf("daemon: socket_mode %q: want octal bits within 0660, such as \"0660\"", f.SocketMode)
		}
		d.Mode = uint32(m)
	}
	if f.SocketGroup != "" {
		gid, err := lookupID(f.SocketGroup, false)
		if err != nil {
			return d, fmt.Errorf("daemon: socket_group: %w", err)
		}
		d.SocketGID = int(gid)
	}
	if f.User != "" {
		u, err := user.Lookup(f.User)
		if err != nil {
			if uid, nerr := strconv.Atoi(f.User); nerr == nil {
				u = &user.User{Uid: strconv.Itoa(uid), Gid: strconv.Itoa(uid), Username: f.User}
			} else {
				return d, fmt.Errorf("daemon: user %q: %w", f.User, err)
			}
		}
		d.UID, _ = strconv.Atoi(u.Uid)
		d.GID, _ = strconv.Atoi(u.Gid)
		d.UserName = u.Username
		if d.UID == 0 {
			return d, fmt.Errorf("daemon: user %q is root; name an unprivileged account", f.User)
		}
	}
	return d, nil
}
