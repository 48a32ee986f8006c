package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// managerListener is the Local Manager's listening socket and the lock
// that keeps a second server from replacing it.
type managerListener struct {
	*net.UnixListener
	path string
	lock *os.File
	once sync.Once
}

// listenManagerSocket creates a Unix socket at path with the given mode and
// group (-1 keeps the server's own).
//
// The socket is created inside a fresh directory of mode 0700 next to
// path and given its mode and group there. Only then is it renamed to
// path, so it never exists at path with a wider mode, not even for an
// instant. A
// lock on path.lock, taken first, makes a second server fail instead of
// replacing the socket of a running one; a socket left behind by a server
// that crashed is replaced.
func listenManagerSocket(path string, mode os.FileMode, gid int) (*managerListener, error) {
	dir := filepath.Dir(path)
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	tmpDir, err := os.MkdirTemp(dir, ".manager-")
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("create Local Manager socket in %s: %w: create the directory and let the server's account write to it, or set socket in [manager]", dir, err)
	}
	defer os.RemoveAll(tmpDir)
	tmpPath := filepath.Join(tmpDir, "s")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmpPath, Net: "unix"})
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("listen on %s: %w", tmpPath, err)
	}
	// The path changes below, so removing the file is done by Close.
	l.SetUnlinkOnClose(false)
	fail := func(err error) (*managerListener, error) {
		l.Close()
		lock.Close()
		return nil, err
	}
	if err := os.Chmod(tmpPath, mode); err != nil {
		return fail(fmt.Errorf("set mode of the Local Manager socket: %w", err))
	}
	if gid >= 0 {
		if err := os.Chown(tmpPath, -1, gid); err != nil {
			return fail(fmt.Errorf("set group %d on the Local Manager socket: %w: the server's account must be a member of the group", gid, err))
		}
	}
	if err := os.Rename(tmpPath, path); err != nil {
		return fail(fmt.Errorf("move the Local Manager socket to %s: %w", path, err))
	}
	return &managerListener{UnixListener: l, path: path, lock: lock}, nil
}

// Close closes the socket, removes its file and releases the lock. Calls
// after the first do nothing.
func (m *managerListener) Close() error {
	var err error
	m.once.Do(func() { err = m.close() })
	return err
}

func (m *managerListener) close() error {
	err := m.UnixListener.Close()
	if rerr := os.Remove(m.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	m.lock.Close()
	return err
}

// lockFile opens path and takes an exclusive lock on it without waiting.
// The lock lasts until the file is closed or the process exits.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := lockExclusive(f); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) || errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("lock %s: another portgate serve uses this Local Manager socket: stop it, or set another socket in [manager]", path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}
