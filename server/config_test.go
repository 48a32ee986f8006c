package server

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseConfigTwoServices(t *testing.T) {
	text := `
helper = "/opt/portgate/portgate-helper"
shutdown_timeout = "1m30s"

[[service]]
name = "web"
kind = "http"
listen = ["tcp://:80", "tcp6://[::1]:8443"]
root = "/srv/www"

[[service]]
name = "echo"
kind = "echo"
listen = ["udp://127.0.0.1:7"]
`
	cfg, err := ParseConfig(text)
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	if cfg.Helper != "/opt/portgate/portgate-helper" {
		t.Errorf("Helper: got %q, want %q", cfg.Helper, "/opt/portgate/portgate-helper")
	}
	if cfg.ShutdownTimeout.Duration != 90*time.Second {
		t.Errorf("ShutdownTimeout: got %v, want 1m30s", cfg.ShutdownTimeout.Duration)
	}
	if len(cfg.Services) != 2 {
		t.Fatalf("services: got %d, want 2", len(cfg.Services))
	}

	web := cfg.Services[0]
	wantWeb := ServiceConfig{Name: "web", Kind: "http", Listen: []string{"tcp://:80", "tcp6://[::1]:8443"}, Root: "/srv/www"}
	if !reflect.DeepEqual(web, wantWeb) {
		t.Errorf("service 1: got %+v, want %+v", web, wantWeb)
	}
	wantEndpoints := []Endpoint{{"tcp", ":80"}, {"tcp6", "[::1]:8443"}}
	if got := web.Endpoints(); !reflect.DeepEqual(got, wantEndpoints) {
		t.Errorf("service 1 Endpoints: got %v, want %v", got, wantEndpoints)
	}

	echo := cfg.Services[1]
	wantEcho := ServiceConfig{Name: "echo", Kind: "echo", Listen: []string{"udp://127.0.0.1:7"}}
	if !reflect.DeepEqual(echo, wantEcho) {
		t.Errorf("service 2: got %+v, want %+v", echo, wantEcho)
	}
}

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := ParseConfig("[[service]]\nname = \"web\"\nkind = \"http\"\nlisten = [\"tcp://:80\"]\n")
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	if cfg.Helper != "" {
		t.Errorf("Helper: got %q, want empty", cfg.Helper)
	}
	if cfg.ShutdownTimeout.Duration != 0 {
		t.Errorf("ShutdownTimeout: got %v, want 0 when unset", cfg.ShutdownTimeout.Duration)
	}
	if cfg.Services[0].Root != "" {
		t.Errorf("Root: got %q, want empty", cfg.Services[0].Root)
	}
}

func TestParseConfigRejects(t *testing.T) {
	const web = "[[service]]\nname = \"web\"\nkind = \"http\"\nlisten = [\"tcp://:80\"]\n"
	cases := []struct {
		name string
		text string
		want string // substring of the error
	}{
		{"unknown top-level key",
			"helper_path = \"/bin/true\"\n" + web, `unknown key "helper_path"`},
		{"unknown service key",
			"[[service]]\nname = \"web\"\nkind = \"http\"\nlisten = [\"tcp://:80\"]\nport = 80\n", `unknown key "service.port"`},
		{"duplicate name",
			web + web, `service "web" is defined twice`},
		{"missing name",
			"[[service]]\nkind = \"http\"\nlisten = [\"tcp://:80\"]\n", "service 1 has no name"},
		{"unknown kind",
			"[[service]]\nname = \"ftp\"\nkind = \"ftp\"\nlisten = [\"tcp://:21\"]\n", `service "ftp": unknown kind "ftp": use echo, exec, http or proxy`},
		{"missing kind",
			"[[service]]\nname = \"web\"\nlisten = [\"tcp://:80\"]\n", `unknown kind ""`},
		{"no listen",
			"[[service]]\nname = \"web\"\nkind = \"http\"\n", `service "web": no listen addresses`},
		{"empty listen",
			"[[service]]\nname = \"web\"\nkind = \"http\"\nlisten = []\n", "no listen addresses"},
		{"bad listen URL",
			"[[service]]\nname = \"web\"\nkind = \"http\"\nlisten = [\"tcp:80\"]\n", `listen address "tcp:80"`},
		{"second listen URL bad",
			"[[service]]\nname = \"web\"\nkind = \"http\"\nlisten = [\"tcp://:80\", \"http://:80\"]\n", `listen address "http://:80"`},
		{"root on echo kind",
			"[[service]]\nname = \"echo\"\nkind = \"echo\"\nlisten = [\"tcp://:7\"]\nroot = \"/srv\"\n", "root is a setting of kind http, not echo"},
		{"negative shutdown_timeout",
			"shutdown_timeout = \"-1s\"\n" + web, "shutdown_timeout must not be negative"},
		{"duration without unit",
			"shutdown_timeout = \"10\"\n" + web, `duration "10"`},
		{"duration in words",
			"shutdown_timeout = \"ten seconds\"\n" + web, `duration "ten seconds"`},
		{"error in second service",
			web + "[[service]]\nname = \"echo\"\nkind = \"echo\"\nlisten = [\"udp://127.0.0.1\"]\n", `service "echo": listen address "udp://127.0.0.1"`},
		{"TOML syntax",
			"[[service]\n", "toml:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig(tc.text)
			if err == nil {
				t.Fatalf("ParseConfig: got %+v, want an error containing %q", cfg, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error: got %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestDurationUnmarshalText(t *testing.T) {
	cases := []struct {
		text string
		want time.Duration
	}{
		{"10s", 10 * time.Second},
		{"1m30s", 90 * time.Second},
		{"250ms", 250 * time.Millisecond},
		{"0s", 0},
		{"1h", time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.text, func(t *testing.T) {
			var d Duration
			if err := d.UnmarshalText([]byte(tc.text)); err != nil {
				t.Fatalf("UnmarshalText(%q): %v", tc.text, err)
			}
			if d.Duration != tc.want {
				t.Errorf("UnmarshalText(%q): got %v, want %v", tc.text, d.Duration, tc.want)
			}
		})
	}
}

func TestDurationRoundTrip(t *testing.T) {
	d := Duration{90 * time.Second}
	text, err := d.MarshalText()
	if err != nil {
		t.Fatalf("MarshalText: %v", err)
	}
	if string(text) != "1m30s" {
		t.Errorf("MarshalText: got %q, want %q", text, "1m30s")
	}
	var back Duration
	if err := back.UnmarshalText(text); err != nil {
		t.Fatalf("UnmarshalText(%q): %v", text, err)
	}
	if back != d {
		t.Errorf("round trip: got %v, want %v", back.Duration, d.Duration)
	}
}

func TestDefaultConfigPassesCheck(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.Check(); err != nil {
		t.Fatalf("DefaultConfig().Check(): %v", err)
	}
	if len(cfg.Services) != 1 {
		t.Fatalf("services: got %d, want 1", len(cfg.Services))
	}
	want := []Endpoint{{"tcp", ":80"}}
	if got := cfg.Services[0].Endpoints(); !reflect.DeepEqual(got, want) {
		t.Errorf("Endpoints: got %v, want %v", got, want)
	}
}

// An exec service may take no socket; every other kind needs one.
func TestParseConfigExecWithoutListen(t *testing.T) {
	cfg, err := ParseConfig("[[service]]\nname = \"worker\"\nkind = \"exec\"\ncommand = [\"/bin/true\"]\n")
	if err != nil {
		t.Fatalf("exec without listen: %v", err)
	}
	if n := len(cfg.Services[0].Endpoints()); n != 0 {
		t.Errorf("exec without listen has %d endpoints, want 0", n)
	}
	for _, kind := range []string{"echo", "http"} {
		_, err := ParseConfig("[[service]]\nname = \"x\"\nkind = \"" + kind + "\"\n")
		if err == nil || !strings.Contains(err.Error(), "no listen addresses") {
			t.Errorf("kind %s without listen: %v, want a no listen addresses error", kind, err)
		}
	}
}
