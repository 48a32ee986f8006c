package e2e

import (
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// shellScripts are the packaging scripts and the shell shellcheck reads
// each as.
var shellScripts = map[string]string{
	"../packaging/sysv/portgate":     "sh",
	"../packaging/openrc/portgate":   "sh",
	"../packaging/freebsd/portgate":  "sh",
	"../packaging/aix/rbac-setup.sh": "ksh",
	"../packaging/deb/preinst":       "sh",
	"../packaging/deb/postinst":      "sh",
	"../packaging/deb/prerm":         "sh",
	"../packaging/deb/postrm":        "sh",
}

func TestShellScriptsPassShellcheck(t *testing.T) {
	requireTools(t, "shellcheck")
	for path, shell := range shellScripts {
		t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(t *testing.T) {
			out, err := exec.Command("shellcheck", "--shell="+shell, "--severity=style", path).CombinedOutput()
			if err != nil {
				t.Errorf("shellcheck %s: %v\n%s", path, err, out)
			}
		})
	}
}

// TestSystemdUnitsVerify runs systemd-analyze verify on each unit, and on
// the helper's unit with the ambient-capability drop-in. verify also
// checks that each ExecStart= program exists, so the copies run /bin/true
// in place of the binaries, which only the package installs.
func TestSystemdUnitsVerify(t *testing.T) {
	requireTools(t, "systemd-analyze")
	dir := t.TempDir()
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join("../packaging/systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(data), "/usr/libexec/portgate/portgate-helper", "/bin/true")
		return strings.ReplaceAll(text, "/usr/bin/portgate", "/bin/true")
	}
	units := map[string]string{
		"portgate.service":         read("portgate.service"),
		"portgate-helper.service":  read("portgate-helper.service"),
		"portgate-ambient.service": read("portgate-helper.service") + "\n" + read("portgate-helper-ambient.conf"),
	}
	var paths []string
	for name, text := range units {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	out, err := exec.Command("systemd-analyze", append([]string{"verify"}, paths...)...).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// The server's unit sets NoNewPrivileges=yes and the helper's does not:
// with it the kernel would ignore the helper's file capability.
func TestSystemdNoNewPrivilegesOnServerOnly(t *testing.T) {
	for name, want := range map[string]bool{"portgate.service": true, "portgate-helper.service": false} {
		data, err := os.ReadFile(filepath.Join("../packaging/systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(data), "\nNoNewPrivileges=yes\n"); got != want {
			t.Errorf("%s sets NoNewPrivileges=yes: got %t, want %t", name, got, want)
		}
	}
}

// smfBundle is the part of an SMF manifest the test reads.
type smfBundle struct {
	Services []struct {
		Name    string `xml:"name,attr"`
		Methods []struct {
			Name       string `xml:"name,attr"`
			Credential *struct {
				User       string `xml:"user,attr"`
				Privileges string `xml:"privileges,attr"`
				Limit      string `xml:"limit_privileges,attr"`
			} `xml:"method_context>method_credential"`
		} `xml:"exec_method"`
	} `xml:"service"`
}

func TestSMFManifestPrivileges(t *testing.T) {
	data, err := os.ReadFile("../packaging/solaris/portgate.xml")
	if err != nil {
		t.Fatal(err)
	}
	var b smfBundle
	if err := xml.Unmarshal(data, &b); err != nil {
		t.Fatalf("portgate.xml is not well-formed XML: %v", err)
	}
	want := map[string]string{"network/portgate-helper": "basic,net_privaddr", "network/portgate": "basic"}
	found := 0
	for _, s := range b.Services {
		for _, m := range s.Methods {
			if m.Name != "start" {
				continue
			}
			found++
			c := m.Credential
			if c == nil {
				t.Errorf("%s: start method has no method_credential", s.Name)
				continue
			}
			if c.User != "portgate" {
				t.Errorf("%s: user %q, want portgate", s.Name, c.User)
			}
			if c.Privileges != want[s.Name] || c.Limit != want[s.Name] {
				t.Errorf("%s: privileges %q, limit %q, want both %q", s.Name, c.Privileges, c.Limit, want[s.Name])
			}
		}
	}
	if found != len(want) {
		t.Errorf("found %d start methods, want %d", found, len(want))
	}
	if _, err := exec.LookPath("xmllint"); err == nil {
		if out, err := exec.Command("xmllint", "--noout", "../packaging/solaris/portgate.xml", "../packaging/macos/org.portgate.portgate.plist").CombinedOutput(); err != nil {
			t.Errorf("xmllint: %v\n%s", err, out)
		}
	}
}

func TestLaunchdPlistWellFormed(t *testing.T) {
	data, err := os.ReadFile("../packaging/macos/org.portgate.portgate.plist")
	if err != nil {
		t.Fatal(err)
	}
	var plist struct {
		Keys    []string `xml:"dict>key"`
		Strings []string `xml:"dict>string"`
	}
	if err := xml.Unmarshal(data, &plist); err != nil {
		t.Fatalf("plist is not well-formed XML: %v", err)
	}
	for _, key := range []string{"Label", "ProgramArguments", "UserName", "RunAtLoad"} {
		if !strings.Contains(strings.Join(plist.Keys, " "), key) {
			t.Errorf("plist lacks the key %s: %q", key, plist.Keys)
		}
	}
	if !strings.Contains(strings.Join(plist.Strings, " "), "_portgate") {
		t.Errorf("plist does not run as _portgate: %q", plist.Strings)
	}
}
