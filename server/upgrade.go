package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// UpgradeTimeout bounds how long the server waits for its successor to
// report ready.
const UpgradeTimeout = 30 * time.Second

// upgrade starts a successor, the server's executable as it is on disk
// now with the same arguments, and hands it every socket of every running
// service in the socket activation convention, named after its service.
// The successor adopts them, starts, and sends READY=1 to a notification
// socket that upgrade creates. Then upgrade returns nil and the caller
// stops this process's services, letting their open connections drain.
// If the successor exits or is not ready within UpgradeTimeout, upgrade
// kills it, starts the Local Manager again and returns the error: this
// process keeps serving as before.
func (s *Server) upgrade() error {
	log := s.Log.With().Str("executable", s.executable).Logger()
	files, names := s.Manager.socketFiles()
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()

	dir, err := os.MkdirTemp("", "portgate-upgrade-")
	if err != nil {
		return fmt.Errorf("upgrade: create notification socket directory: %w", err)
	}
	defer os.RemoveAll(dir)
	notifyPath := filepath.Join(dir, "notify")
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notifyPath, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("upgrade: listen for the successor's notification: %w", err)
	}
	defer notify.Close()

	// The successor takes over the Local Manager socket and its lock.
	if s.local != nil {
		s.local.Close()
	}
	args := append([]string{ExecShimCommand, "--", s.executable}, os.Args[1:]...)
	cmd := exec.Command(s.executable, args...)
	cmd.Env = append(childEnv(0, ""), "NOTIFY_SOCKET="+notifyPath, upgradeNotifyEnv+"="+os.Getenv("NOTIFY_SOCKET"))
	cmd.Env = setEnv(cmd.Env, "LISTEN_FDS", strconv.Itoa(len(files)))
	cmd.Env = setEnv(cmd.Env, "LISTEN_FDNAMES", strings.Join(names, ":"))
	cmd.ExtraFiles = files
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return s.upgradeFailed(fmt.Errorf("upgrade: start successor %s: %w", s.executable, err))
	}
	log.Info().Int("successor_pid", cmd.Process.Pid).Int("sockets", len(files)).Msg("upgrade: successor started")
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	ready := make(chan error, 1)
	go func() { ready <- waitReady(notify, UpgradeTimeout) }()
	select {
	case err = <-ready:
	case werr := <-exited:
		err = fmt.Errorf("successor exited before it was ready: %s", exitText(werr))
	}
	if err != nil {
		cmd.Process.Kill()
		return s.upgradeFailed(fmt.Errorf("upgrade: %w", err))
	}
	log.Info().Int("successor_pid", cmd.Process.Pid).Msg("upgrade: successor ready, stopping this process")
	notifyMainPID(s.Log, cmd.Process.Pid)
	return nil
}

// upgradeFailed logs err, starts the Local Manager again and returns err.
func (s *Server) upgradeFailed(err error) error {
	s.Log.Error().Err(err).Msg("upgrade failed: this process keeps serving")
	if s.local != nil {
		if lerr := s.local.Listen(s.local.path); lerr != nil {
			s.Log.Error().Err(lerr).Msg("Local Manager could not start again after the failed upgrade")
		}
	}
	return err
}

// waitReady reads notifications until one holds READY=1 or timeout passes.
func waitReady(c *net.UnixConn, timeout time.Duration) error {
	c.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return fmt.Errorf("successor not ready within %s", timeout)
			}
			return err
		}
		for _, line := range strings.Split(string(buf[:n]), "\n") {
			if line == "READY=1" {
				return nil
			}
		}
	}
}

func setEnv(env []string, key, value string) []string {
	out := env[:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}

// socketFiles returns duplicates of the sockets of every running service,
// and for each the name of its service. The caller owns the files.
func (m *Manager) socketFiles() ([]*os.File, []string) {
	m.mu.Lock()
	svcs := make([]*service, 0, len(m.order))
	for _, name := range m.order {
		svcs = append(svcs, m.services[name])
	}
	m.mu.Unlock()
	var files []*os.File
	var names []string
	for _, s := range svcs {
		s.mu.Lock()
		for _, h := range s.sockets {
			f, err := socketFile(h.Socket)
			if err != nil {
				m.Log.Error().Err(err).Str("service", s.config.Name).Str("address", h.LocalAddr().String()).Msg("upgrade: socket not passed on")
				continue
			}
			files = append(files, f)
			names = append(names, s.config.Name)
		}
		s.mu.Unlock()
	}
	return files, names
}
