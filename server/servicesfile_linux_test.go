package server

import (
	"errors"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Without a temporary directory of its own, renameio probes TMPDIR on
// every write with two extra files and a rename, which made each change
// through the Local Manager cost more.
func TestWriteServicesFileLeavesTMPDIRAlone(t *testing.T) {
	dir := t.TempDir()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Skipf("inotify: %v", err)
	}
	defer unix.Close(fd)
	if _, err := unix.InotifyAddWatch(fd, tmp, unix.IN_CREATE|unix.IN_MOVED_FROM|unix.IN_MOVED_TO); err != nil {
		t.Fatalf("watch %s: %v", tmp, err)
	}

	if err := WriteServicesFile(filepath.Join(dir, "services.toml"), nil); err != nil {
		t.Fatal(err)
	}

	buf := make([]byte, 4096)
	n, err := unix.Read(fd, buf)
	if !errors.Is(err, unix.EAGAIN) {
		t.Errorf("events in TMPDIR during the write: got %d bytes of inotify events (err %v), want none", n, err)
	}
}
