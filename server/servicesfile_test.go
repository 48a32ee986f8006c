package server

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestServicesFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "services.toml")
	want := []ServiceConfig{
		{Name: "b", Kind: "echo", Listen: []string{"tcp://127.0.0.1:7"}, DrainTimeout: Duration{2 * time.Second}},
		{Name: "c", Kind: "http", Listen: []string{"tcp://:80", "tcp6://[::1]:8080"}, Root: "/srv/www"},
	}
	if err := WriteServicesFile(path, want); err != nil {
		t.Fatalf("WriteServicesFile: %v", err)
	}
	got, err := LoadServicesFile(path)
	if err != nil {
		t.Fatalf("LoadServicesFile: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip: got %+v, want %+v", got, want)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := st.Mode().Perm(); mode != 0o600 {
		t.Errorf("mode: got %o, want 600", mode)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries after the write, want the file alone", len(ents))
	}
}

func TestServicesFileEmptyAndMissing(t *testing.T) {
	dir := t.TempDir()
	got, err := LoadServicesFile(filepath.Join(dir, "missing.toml"))
	if err != nil || got != nil {
		t.Errorf("missing file: got %v, %v, want nil, nil", got, err)
	}
	path := filepath.Join(dir, "services.toml")
	if err := WriteServicesFile(path, nil); err != nil {
		t.Fatal(err)
	}
	got, err = LoadServicesFile(path)
	if err != nil || len(got) != 0 {
		t.Errorf("empty file: got %v, %v, want no services", got, err)
	}
}

func TestServicesFileRejectsBadService(t *testing.T) {
	path := filepath.Join(t.TempDir(), "services.toml")
	os.WriteFile(path, []byte("[[service]]\nname = \"x\"\nkind = \"ftp\"\nlisten = [\"tcp://:21\"]\n"), 0o600)
	_, err := LoadServicesFile(path)
	if err == nil || !strings.Contains(err.Error(), `unknown kind "ftp"`) || !strings.Contains(err.Error(), path) {
		t.Errorf("got %v, want an error naming the path and the unknown kind", err)
	}
}

func TestConfigAddManagedDuplicate(t *testing.T) {
	cfg := &Config{Services: []ServiceConfig{echoService("a", "tcp://:7")}}
	err := cfg.AddManaged("/var/lib/portgate/services.toml", []ServiceConfig{echoService("a", "tcp://:8")})
	if err == nil || !strings.Contains(err.Error(), `service "a" is defined both`) {
		t.Errorf("got %v, want a duplicate-name error", err)
	}
}
