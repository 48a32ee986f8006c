package server

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHTTPServesRoot(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello from root"), 0o644)
	m := newTestManager(t)
	sc := ServiceConfig{Name: "web", Kind: "http", Listen: []string{"tcp://127.0.0.1:0"}, Root: root}
	if err := m.Add(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	addr := mustListenerAddress(t, m, "web")
	resp, err := http.Get("http://" + addr + "/hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "hello from root" {
		t.Errorf("GET /hello.txt: %d %q, want 200 and the file", resp.StatusCode, body)
	}
	resp, err = http.Get("http://" + addr + "/missing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /missing: %d, want 404", resp.StatusCode)
	}
}

func TestHTTPRootMustBeDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	m := newTestManager(t)
	for _, root := range []string{file, filepath.Join(file, "missing")} {
		err := m.Add(context.Background(), ServiceConfig{Name: "web", Kind: "http", Listen: []string{"tcp://127.0.0.1:0"}, Root: root})
		if err == nil || !strings.Contains(err.Error(), "root") {
			t.Errorf("root %s: got %v, want an error about the root", root, err)
		}
	}
}
