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
// permissions than cfg asks for.
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

// GiveLockTo makes uid the owner of the lock file, so that a later daemon
// started as that user, not as root, can open it.
func (s *DaemonSocket) GiveLockTo(uid, gid int) error {
	if err := s.lock.Chown(uid, gid); err != nil {
		return fmt.Errorf("chown the lock file %s to %d:%d: %w", s.lock.Name(), uid, gid, err)
	}
	return nil
}

// Close closes the listener, removes the socket and releases the lock.
func (s *DaemonSocket) Close() error {
	err := s.Listener.Close()
	os.Remove(s.Path)
	s.lock.Close()
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
		return fmt.Errorf("socket directory %s has mode %#o and is writable by group or others, so another user could replace the socket: run chmod go-w %s", dir, st.Mode&0o7777, dir)
	}
	if int(st.Uid) != os.Geteuid() && st.Uid != 0 {
		return fmt.Errorf("socket directory %s is owned by uid %d, neither root nor this daemon's uid %d: run chown %d %s", dir, st.Uid, os.Geteuid(), os.Geteuid(), dir)
	}
	return nil
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
	private, err := os.MkdirTemp(dir, ".bind-")
	if err != nil {
		return nil, fmt.Errorf("create private directory in %s: %w", dir, err)
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
