package doctor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
	"time"
)

// CommandTimeout bounds each command doctor runs.
const CommandTimeout = 10 * time.Second

// commandPath is the PATH of every command doctor runs, which covers the
// system tools of each supported system.
const commandPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// LocalHost is the Host doctor runs on.
type LocalHost struct{}

// Run runs name with args, with a minimal environment and CommandTimeout.
func (LocalHost) Run(ctx context.Context, name string, args ...string) (Output, error) {
	return runCommand(ctx, nil, name, args...)
}

// RunAs runs the command as account when doctor runs as root, and as
// doctor's own user otherwise.
func (LocalHost) RunAs(ctx context.Context, account *Account, name string, args ...string) (Output, error) {
	if os.Geteuid() != 0 || account.UID == 0 {
		return runCommand(ctx, nil, name, args...)
	}
	cred := &syscall.Credential{Uid: account.UID, Gid: account.GID, Groups: account.Groups}
	return runCommand(ctx, cred, name, args...)
}

func runCommand(ctx context.Context, cred *syscall.Credential, name string, args ...string) (Output, error) {
	ctx, cancel := context.WithTimeout(ctx, CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = []string{commandPath, "LC_ALL=C"}
	cmd.Dir = "/"
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return Output{Text: buf.String(), Exit: exit.ExitCode()}, nil
	case err != nil:
		return Output{}, err
	}
	return Output{Text: buf.String()}, nil
}

// ReadFile reads the file at path.
func (LocalHost) ReadFile(path string) ([]byte, error) { return os.ReadFile(path) }

// Stat returns the mode and owner of path without following a symbolic
// link.
func (LocalHost) Stat(path string) (FileInfo, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return FileInfo{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return FileInfo{}, fmt.Errorf("stat %s: no owner information", path)
	}
	return FileInfo{Mode: fi.Mode(), UID: st.Uid, GID: st.Gid}, nil
}

// Getxattr reads an extended attribute where the system has them.
func (LocalHost) Getxattr(path, attr string) ([]byte, error) { return getxattr(path, attr) }

// LookupAccount looks up an account by name or uid, with its groups.
func (LocalHost) LookupAccount(name string) (*Account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		if u, err = user.LookupId(name); err != nil {
			return nil, err
		}
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("account %s has a non-numeric uid %q or gid %q", name, u.Uid, u.Gid)
	}
	a := &Account{Name: u.Username, UID: uint32(uid), GID: uint32(gid), Groups: []uint32{uint32(gid)}}
	ids, _ := u.GroupIds()
	for _, id := range ids {
		if n, err := strconv.ParseUint(id, 10, 32); err == nil && uint32(n) != a.GID {
			a.Groups = append(a.Groups, uint32(n))
		}
	}
	return a, nil
}

// Euid returns doctor's effective uid.
func (LocalHost) Euid() int { return os.Geteuid() }
