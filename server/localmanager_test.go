package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// startLocalManager runs a Local Manager for a fresh Manager on a socket
// in a temporary directory and returns it with an HTTP client for it.
func startLocalManager(t *testing.T, access Access) (*LocalManager, *http.Client) {
	t.Helper()
	dir := t.TempDir()
	lm := &LocalManager{
		Manager:      newTestManager(t),
		Client:       &Client{HelperPath: "/nonexistent/portgate-helper"},
		Log:          zerolog.Nop(),
		Access:       access,
		ConfigPath:   "/etc/portgate/portgate.toml",
		ServicesFile: filepath.Join(dir, "services.toml"),
	}
	lm.Manager.Client = lm.Client
	path := filepath.Join(dir, "manager.sock")
	if err := lm.Listen(path); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { lm.Close() })
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	return lm, &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func ownAccess(t *testing.T) Access {
	t.Helper()
	a, err := NewAccess(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// call sends a request and returns the status code and body.
func call(t *testing.T, c *http.Client, method, path string, body any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://portgate"+path, rd)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func TestLocalManagerAddShowRemove(t *testing.T) {
	lm, c := startLocalManager(t, ownAccess(t))
	code, body := call(t, c, "POST", "/v1/services", echoService("b", "tcp://127.0.0.1:0"))
	if code != http.StatusCreated {
		t.Fatalf("add: status %d, want 201: %s", code, body)
	}
	var st ServiceStatus
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if st.State != StateRunning || len(st.Listeners) != 1 {
		t.Fatalf("added service: %+v, want running with one listener", st)
	}
	addr := st.Listeners[0].Address
	if got, err := echoOnce("tcp", addr, "lm"); err != nil || got != "lm" {
		t.Errorf("echo on %s: got %q, %v", addr, got, err)
	}
	saved, err := LoadServicesFile(lm.ServicesFile)
	if err != nil || len(saved) != 1 || saved[0].Name != "b" {
		t.Errorf("services file after add: %+v, %v, want service b", saved, err)
	}

	code, body = call(t, c, "GET", "/v1/services/b", nil)
	if code != http.StatusOK || !strings.Contains(body, `"state": "running"`) {
		t.Errorf("show b: status %d: %s", code, body)
	}
	code, _ = call(t, c, "GET", "/v1/services/missing", nil)
	if code != http.StatusNotFound {
		t.Errorf("show missing: status %d, want 404", code)
	}
	code, body = call(t, c, "POST", "/v1/services", echoService("b", "tcp://127.0.0.1:0"))
	if code != http.StatusConflict {
		t.Errorf("add b twice: status %d, want 409: %s", code, body)
	}

	code, body = call(t, c, "DELETE", "/v1/services/b", nil)
	if code != http.StatusOK {
		t.Fatalf("remove b: status %d: %s", code, body)
	}
	saved, err = LoadServicesFile(lm.ServicesFile)
	if err != nil || len(saved) != 0 {
		t.Errorf("services file after remove: %+v, %v, want no services", saved, err)
	}
	if l, err := net.Listen("tcp", addr); err != nil {
		t.Errorf("bind %s after remove: %v, want it free", addr, err)
	} else {
		l.Close()
	}
}

func TestLocalManagerRejectsBadInput(t *testing.T) {
	_, c := startLocalManager(t, ownAccess(t))
	cases := []struct {
		name string
		body any
		want string
	}{
		{"unknown kind", ServiceConfig{Name: "x", Kind: "ftp", Listen: []string{"tcp://:21"}}, `unknown kind "ftp"`},
		{"no listen", ServiceConfig{Name: "x", Kind: "echo"}, "no listen addresses"},
		{"unknown field", map[string]any{"name": "x", "kind": "echo", "listen": []string{"tcp://:7"}, "port": 7}, `unknown field "port"`},
		{"no name", ServiceConfig{Kind: "echo", Listen: []string{"tcp://127.0.0.1:0"}}, "no name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := call(t, c, "POST", "/v1/services", tc.body)
			if code != http.StatusBadRequest {
				t.Errorf("status %d, want 400: %s", code, body)
			}
			var reply errorReply
			json.Unmarshal([]byte(body), &reply)
			if !strings.Contains(reply.Error, tc.want) {
				t.Errorf("error %q does not contain %q", reply.Error, tc.want)
			}
		})
	}
}

func TestLocalManagerConfigServiceIsReadOnly(t *testing.T) {
	lm, c := startLocalManager(t, ownAccess(t))
	if err := lm.Manager.Add(context.Background(), echoService("a", "tcp://127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	code, body := call(t, c, "DELETE", "/v1/services/a", nil)
	if code != http.StatusConflict || !strings.Contains(body, "defined in the config file /etc/portgate/portgate.toml") {
		t.Errorf("remove a config service: status %d: %s, want 409 naming the config file", code, body)
	}
	code, body = call(t, c, "POST", "/v1/services/a/stop", nil)
	if code != http.StatusOK || !strings.Contains(body, `"state": "stopped"`) {
		t.Errorf("stop a: status %d: %s", code, body)
	}
	code, body = call(t, c, "POST", "/v1/services/a/start", nil)
	if code != http.StatusOK || !strings.Contains(body, `"state": "running"`) {
		t.Errorf("start a: status %d: %s", code, body)
	}
}

func TestLocalManagerRejectsOtherUID(t *testing.T) {
	other := Access{UIDs: map[uint32]bool{uint32(os.Getuid()) + 12345: true}, GIDs: map[uint32]bool{}}
	_, c := startLocalManager(t, other)
	code, body := call(t, c, "GET", "/v1/services", nil)
	if code != http.StatusForbidden {
		t.Errorf("status %d, want 403: %s", code, body)
	}
	if want := fmt.Sprintf("uid %d", os.Getuid()); !strings.Contains(body, want) {
		t.Errorf("body %s does not name %s", body, want)
	}
}

func TestLocalManagerAllowsGroup(t *testing.T) {
	access := Access{UIDs: map[uint32]bool{uint32(os.Getuid()) + 12345: true}, GIDs: map[uint32]bool{uint32(os.Getgid()): true}, SocketGID: os.Getgid()}
	lm, c := startLocalManager(t, access)
	if code, body := call(t, c, "GET", "/v1/status", nil); code != http.StatusOK {
		t.Errorf("status %d, want 200 for a member of an allowed group: %s", code, body)
	}
	st, err := os.Stat(lm.path)
	if err != nil {
		t.Fatal(err)
	}
	// Another uid is allowed too, so others get write access and peer
	// credentials do the checking.
	if mode := st.Mode().Perm(); mode != 0o666 {
		t.Errorf("socket mode %o, want 666", mode)
	}
	if gid := st.Sys().(*syscall.Stat_t).Gid; int(gid) != os.Getgid() {
		t.Errorf("socket group %d, want %d", gid, os.Getgid())
	}
}

func TestLocalManagerSocketModeAndLock(t *testing.T) {
	lm, _ := startLocalManager(t, ownAccess(t))
	st, err := os.Stat(lm.path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModeSocket == 0 {
		t.Errorf("%s is not a socket: %v", lm.path, st.Mode())
	}
	if mode := st.Mode().Perm(); mode != 0o600 {
		t.Errorf("socket mode %o, want 600", mode)
	}
	second := &LocalManager{Manager: lm.Manager, Client: lm.Client, Log: zerolog.Nop(), Access: ownAccess(t)}
	err = second.Listen(lm.path)
	if err == nil {
		second.Close()
		t.Fatal("a second Local Manager on the same path started, want a lock error")
	}
	if !strings.Contains(err.Error(), "another portgate serve uses this Local Manager socket") {
		t.Errorf("error %q does not name the running server", err)
	}
	ents, _ := os.ReadDir(filepath.Dir(lm.path))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".manager-") {
			t.Errorf("temporary directory %s left behind", e.Name())
		}
	}
}

func TestLocalManagerReplacesStaleSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "manager.sock")
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()
	lm := &LocalManager{Manager: newTestManager(t), Client: &Client{}, Log: zerolog.Nop(), Access: ownAccess(t)}
	if err := lm.Listen(path); err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	lm.Close()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket file after Close: %v, want it removed", err)
	}
}
