package doctor

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// recorded is the output of one command, read from a file in testdata.
type recorded struct {
	file string
	exit int
}

// fakeHost replays files and command output recorded on each system.
type fakeHost struct {
	t        *testing.T
	dir      string
	commands map[string]recorded
	files    map[string]string
	stats    map[string]FileInfo
	xattrs   map[string][]byte
	accounts map[string]*Account
	euid     int
	// ranAs records the account of each RunAs call.
	ranAs []string
}

const (
	helperPath = "/usr/libexec/portgate/portgate-helper"
	policyPath = "/etc/portgate/helper.toml"
)

// newFakeHost returns a host with the packaged layout: the helper
// root:portgate mode 0750, a valid policy for the account portgate (uid
// 999), and the recorded output under testdata/goos.
func newFakeHost(t *testing.T, goos string) *fakeHost {
	return &fakeHost{
		t:        t,
		dir:      filepath.Join("testdata", goos),
		commands: map[string]recorded{},
		files:    map[string]string{policyPath: "../policy.toml"},
		stats: map[string]FileInfo{
			helperPath:               {Mode: 0o750, UID: 0, GID: 995},
			filepath.Dir(policyPath): {Mode: fs.ModeDir | 0o755},
			policyPath:               {Mode: 0o644},
		},
		xattrs:   map[string][]byte{},
		accounts: map[string]*Account{"portgate": {Name: "portgate", UID: 999, GID: 995, Groups: []uint32{995}}},
	}
}

func (h *fakeHost) command(line, file string, exit int) { h.commands[line] = recorded{file, exit} }

func (h *fakeHost) read(file string) string {
	b, err := os.ReadFile(filepath.Join(h.dir, file))
	if err != nil {
		h.t.Fatalf("recorded output: %v", err)
	}
	return string(b)
}

func (h *fakeHost) Run(_ context.Context, name string, args ...string) (Output, error) {
	line := strings.Join(append([]string{name}, args...), " ")
	r, ok := h.commands[line]
	if !ok {
		return Output{}, &exec.Error{Name: name, Err: exec.ErrNotFound}
	}
	return Output{Text: h.read(r.file), Exit: r.exit}, nil
}

func (h *fakeHost) RunAs(ctx context.Context, a *Account, name string, args ...string) (Output, error) {
	h.ranAs = append(h.ranAs, a.Name)
	return h.Run(ctx, name, args...)
}

func (h *fakeHost) ReadFile(path string) ([]byte, error) {
	file, ok := h.files[path]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
	}
	return []byte(h.read(file)), nil
}

func (h *fakeHost) Stat(path string) (FileInfo, error) {
	st, ok := h.stats[path]
	if !ok {
		return FileInfo{}, &fs.PathError{Op: "lstat", Path: path, Err: fs.ErrNotExist}
	}
	return st, nil
}

func (h *fakeHost) Getxattr(path, attr string) ([]byte, error) {
	v, ok := h.xattrs[path+" "+attr]
	if !ok {
		return nil, errNoAttribute
	}
	return v, nil
}

func (h *fakeHost) LookupAccount(name string) (*Account, error) {
	a, ok := h.accounts[name]
	if !ok {
		return nil, errors.New("user: unknown user " + name)
	}
	return a, nil
}

func (h *fakeHost) Euid() int { return h.euid }

// diagnose runs Diagnose for goos with the packaged paths.
func (h *fakeHost) diagnose(goos string) *Report {
	return Diagnose(context.Background(), h, Options{GOOS: goos, HelperPath: helperPath, PolicyPath: policyPath, Account: "portgate"})
}

// checkOf returns the check named name, failing the test without one.
func checkOf(t *testing.T, r *Report, name string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, r.Checks)
	return Check{}
}

// wantCheck checks the status of the check named name and that its
// detail and fixes contain each of texts.
func wantCheck(t *testing.T, r *Report, name string, status Status, texts ...string) {
	t.Helper()
	c := checkOf(t, r, name)
	if c.Status != status {
		t.Errorf("check %q: got status %s, want %s (%s)", name, c.Status, status, c.Detail)
	}
	all := c.Detail + "\n" + strings.Join(c.Fix, "\n")
	for _, text := range texts {
		if !strings.Contains(all, text) {
			t.Errorf("check %q: got %q, want it to contain %q", name, all, text)
		}
	}
}

// wantVerdict checks the mechanism and whether a port can be granted.
func wantVerdict(t *testing.T, r *Report, mechanism string, canGrant bool) {
	t.Helper()
	if r.Mechanism != mechanism {
		t.Errorf("mechanism: got %q, want %q", r.Mechanism, mechanism)
	}
	if r.CanGrant != canGrant {
		t.Errorf("can grant: got %t, want %t; problems: %+v", r.CanGrant, canGrant, r.Problems())
	}
}
