package helper

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DaemonSocket is the daemon's listening socket and the lock that makes
// it the only daemon on that path.
type DaemonSocket struct {
	Listener *net.UnixListener
	Path     string
	lock     *os.File
}

// ListenDaemonSocket creates the daemon's socket at cfg.Socket.
//
// A lock file beside the socket, not a connect probe, decides whether
// another daemon runs: a live daemon too busy to accept still holds its
// lock, and a crashed one has released it. Holding the lock, the daemon
// may remove a stale socket. The socket is bound inside a private
// directory (mode 0700), given its mode and owner there, and only then
// renamed into place, so it never exists at its path with wider
// permissions than cfg sets.
func ListenDaemonSocket(cfg DaemonConfig) (*DaemonSocket, error) {
	dir := filepath.Dir(cfg.Socket)
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	lock, err := acquireLock(filepath.Join(dir, filepath.Base(cfg.Socket)+".lock"))
	if err != nil {
		return nil, err
	}
	ln, err := bindSocket(cfg, dir)
	if err != nil {
		lock.Close()
		return nil, err
	}
	return &DaemonSocket{Listener: ln, Path: cfg.Socket, lock: lock}, nil
}

// Close closes the listener, removes the socket and releases the lock.
// Once the daemon has confined itself it may not remove the socket; the
// next daemon, holding the lock, removes it then.
func (s *DaemonSocket) Close() error {
	err := s.Listener.Close()
	removeErr := os.Remove(s.Path)
	s.lock.Close()
	if removeErr != nil {
		return fmt.Errorf("socket %s left behind for the next start to remove: %w", s.Path, removeErr)
	}
	return err
}

// ensureDir creates dir (mode 0755) if needed and checks that nobody but
// its owner can write to it, so no one else can replace the socket.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create socket directory %s: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("check socket directory %s: %w", dir, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("socket directory %s is not a directory", dir)
	}
	if st.Mode&0o022 != 0 {
		if st.Mode&unix.S_ISVTX != 0 {
			return fmt.Errorf("socket directory %s is shared (mode %#o), so another user could take the socket's name: put the socket in a directory of its own, such as %s", dir, st.Mode&0o7777, filepath.Dir(DefaultDaemonSocket))
		}
		return fmt.Errorf("socket directory %s has mode %#o and is writable by group or others, so another user could replace the socket: run chmod go-w %s", dir, st.Mode&0o7777, dir)
	}
	if int(st.Uid) != os.Geteuid() && st.Uid != 0 {
		return fmt.Errorf("socket directory %s is owned by uid %d, neither root nor this daemon's uid %d: run chown %d %s", dir, st.Uid, os.Geteuid(), os.Geteuid(), dir)
	}
	return checkAncestors(filepath.Dir(dir))
}

// checkAncestors checks every directory above the socket's: each must be
// a real directory, not a symlink, owned by root or by this daemon, and
// writable by no one else unless it has the sticky bit, as /tmp does.
// Otherwise its owner could move the socket's directory aside and put
// another socket in its place.
func checkAncestors(dir string) error {
	for {
		var st unix.Stat_t
		if err := unix.Lstat(dir, &st); err != nil {
			return fmt.Errorf("check directory %s above the socket: %w", dir, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return fmt.Errorf("%s above the socket is not a directory (a symlink?): give the socket a path without symlinks", dir)
		}
		if int(st.Uid) != os.Geteuid() && st.Uid != 0 {
			return fmt.Errorf("directory %s above the socket is owned by uid %d, who could replace the socket's directory: use a path owned by root", dir, st.Uid)
		}
		if st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0 {
			return fmt.Errorf("directory %s above the socket has mode %#o and is writable by group or others: run chmod go-w %s", dir, st.Mode&0o7777, dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

// acquireLock takes an exclusive lock on path without waiting and writes
// this process's pid into it. The lock lasts as long as the returned file
// is open, and the kernel releases it when the process dies.
func acquireLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", path, err)
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart}
	if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk); err != nil {
		f.Close()
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
			owner := "another process"
			if b, rerr := os.ReadFile(path); rerr == nil && len(strings.TrimSpace(string(b))) > 0 {
				owner = "pid " + strings.TrimSpace(string(b))
			}
			return nil, fmt.Errorf("another portgate-helper daemon (%s) holds the lock %s: stop it first", owner, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// bindSocket binds and listens in a private directory, sets mode and
// owner, and renames the socket to cfg.Socket, replacing a stale one.
func bindSocket(cfg DaemonConfig, dir string) (*net.UnixListener, error) {
	var st unix.Stat_t
	if err := unix.Lstat(cfg.Socket, &st); err == nil && st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return nil, fmt.Errorf("%s exists and is not a socket: remove it or choose another socket path in [daemon]", cfg.Socket)
	}
	// sun_path holds 108 bytes on Linux and 104 on the BSDs; the socket is
	// first bound at a temporary name 18 bytes longer than the directory.
	const maxSunPath = 104
	if len(dir)+18 >= maxSunPath || len(cfg.Socket) >= maxSunPath {
		return nil, fmt.Errorf("socket path %s is too long: its directory may have at most %d bytes, it has %d: choose a shorter path in [daemon]", cfg.Socket, maxSunPath-19, len(dir))
	}
	private, err := os.MkdirTemp(dir, ".bind-")
	if err != nil {
		return nil, fmt.Errorf("create private directory in %s: %w: the daemon's uid %d must be able to write there: run chown %d %s", dir, err, os.Geteuid(), os.Geteuid(), dir)
	}
	defer os.RemoveAll(private)
	tmp := filepath.Join(private, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", tmp, err)
	}
	// The listener must not unlink the temporary name on Close: the
	// socket lives at cfg.Socket from the rename on.
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (*net.UnixListener, error) {
		ln.Close()
		return nil, err
	}
	if err := os.Chmod(tmp, os.FileMode(cfg.Mode)); err != nil {
		return fail(fmt.Errorf("chmod %#o %s: %w", cfg.Mode, tmp, err))
	}
	if cfg.SocketGID >= 0 {
		if err := os.Lchown(tmp, -1, cfg.SocketGID); err != nil {
			return fail(fmt.Errorf("set group %d on the helper socket: %w: start the daemon as root, or as a member of socket_group", cfg.SocketGID, err))
		}
	}
	if err := os.Rename(tmp, cfg.Socket); err != nil {
		return fail(fmt.Errorf("move the helper socket to %s: %w", cfg.Socket, err))
	}
	return ln, nil
}
