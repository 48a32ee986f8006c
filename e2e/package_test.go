package e2e

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// requireTools fails the test when a tool is missing and CI=true, and
// skips it otherwise.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found, and CI=true forbids skipping: .ci/run installs it", tool)
			}
			t.Skipf("%s not found: .ci/run installs it", tool)
		}
	}
}

// toolPath is the PATH for make and the packaging tools: the system's,
// plus the Go bin directory where nfpm is installed.
func toolPath() string {
	out, err := exec.Command("go", "env", "GOPATH").Output()
	gobin := ""
	if err == nil {
		gobin = filepath.Join(strings.TrimSpace(string(out)), "bin") + ":"
	}
	return "PATH=" + gobin + os.Getenv("PATH")
}

// buildPackage runs make target (deb or rpm) for version with its output
// in dir, and returns the path of the one package file it made.
func buildPackage(t *testing.T, target, version, dir string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "-C", "..", target, "DIST="+dir, "PKG_VERSION="+version)
	cmd.Env = append(os.Environ(), toolPath())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make %s PKG_VERSION=%s: %v\n%s", target, version, err, out)
	}
	pattern := map[string]string{"deb": "*.deb", "rpm": "*/*.rpm"}[target]
	files, _ := filepath.Glob(filepath.Join(dir, pattern))
	if len(files) != 1 {
		t.Fatalf("make %s made %q in %s, want one package", target, files, dir)
	}
	return files[0]
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(data))
}

// lockPackageTests serializes the tests that install packages on this
// host, also across concurrent go test runs, for at most 5 minutes.
func lockPackageTests(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile("/run/lock/portgate-package-test.lock", os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatalf("open the package test lock: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	for deadline := time.Now().Add(5 * time.Minute); ; {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return
		}
		if !errors.Is(err, unix.EWOULDBLOCK) || time.Now().After(deadline) {
			t.Fatalf("lock %s: %v", f.Name(), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// The packages are built twice from one commit and must be identical.
func TestPackagesReproducible(t *testing.T) {
	requireRoot(t)
	requireTools(t, "nfpm", "rpmbuild", "make")
	for _, target := range []string{"deb", "rpm"} {
		first := buildPackage(t, target, "0.1.0", t.TempDir())
		second := buildPackage(t, target, "0.1.0", t.TempDir())
		if a, b := sha256File(t, first), sha256File(t, second); a != b {
			t.Errorf("make %s twice: sha256 %s and %s, want equal", target, a, b)
		}
	}
}

func TestRPMFileListCarriesCapability(t *testing.T) {
	requireRoot(t)
	requireTools(t, "rpmbuild", "rpm", "make")
	pkg := buildPackage(t, "rpm", "0.1.0", t.TempDir())
	out := run(t, "rpm", "-qp", "--queryformat", "[%{FILENAMES} %{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILECAPS}\n]", pkg)
	const want = "/usr/libexec/portgate/portgate-helper -rwxr-x--- root:portgate cap_setpcap,cap_net_bind_service=p"
	if !strings.Contains(out, want+"\n") {
		t.Errorf("rpm file list lacks %q:\n%s", want, out)
	}
	for _, conf := range []string{"/etc/portgate/helper.toml", "/etc/portgate/portgate.toml"} {
		configs := run(t, "rpm", "-qp", "--configfiles", pkg)
		if !strings.Contains(configs, conf+"\n") {
			t.Errorf("rpm config files lack %s:\n%s", conf, configs)
		}
	}
}
