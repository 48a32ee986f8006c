package e2e

import (
	"fmt"
	"strings"
	"testing"
)

const threeRoles = `
[[service]]
name = "plain"
kind = "http"
listen = ["tcp://127.0.0.1:80"]

[[service]]
name = "tls"
kind = "echo"
listen = ["tcp://127.0.0.1:443"]

[[service]]
name = "admin"
kind = "echo"
listen = ["tcp://127.0.0.1:700"]
`

// TestAdoptNamesOrderAndCount passes three sockets with LISTEN_FDNAMES in
// another order than the config, with too few names, with too many, and
// with a name used twice. Every time each service must serve on its own
// address, so that no socket lands in the wrong role, and no socket may be
// bound anew.
func TestAdoptNamesOrderAndCount(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	specs := []string{"tcp-listen=127.0.0.1:443", "tcp-listen=127.0.0.1:80", "tcp-listen=127.0.0.1:700"}
	cases := []struct{ name, names string }{
		{"other order", "tls:plain:admin"},
		{"names swapped", "plain:tls:admin"},
		{"two names", "tls:plain"},
		{"four names", "tls:plain:admin:extra"},
		{"duplicate name", "plain:plain:admin"},
		{"no names", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNetns(t)
			argv := []string{buildTool(t, "fdpass")}
			if tc.names != "" {
				argv = append(argv, "-names", tc.names)
			}
			argv = append(append(argv, specs...), "--")
			srv, err := startParent(t, ns, append(argv, serveArgv(t, helper, threeRoles)...), nil)
			if err != nil {
				t.Fatal(err)
			}
			log := srv.log.String()
			if n := strings.Count(log, `"inherited socket adopted"`); n != 3 {
				t.Errorf("adopted %d sockets, want 3", n)
			}
			if strings.Contains(log, `"inherited":false`) {
				t.Error("a listener was bound anew, want all three inherited")
			}
			for _, role := range []struct{ service, address string }{{"plain", "127.0.0.1:80"}, {"tls", "127.0.0.1:443"}, {"admin", "127.0.0.1:700"}} {
				if !logHas(log, fmt.Sprintf(`"service":%q`, role.service), fmt.Sprintf(`"address":%q`, role.address), `"inherited":true`, `"listener added"`) {
					t.Errorf("service %s did not get the inherited socket of %s", role.service, role.address)
				}
			}
			if got, err := echoVia(ns, "127.0.0.1:443", "tls"); err != nil || got != "tls" {
				t.Errorf("echo on 443: got %q, %v", got, err)
			}
			if body, err := firstRequest(ns, "127.0.0.1:80"); err != nil || !strings.Contains(string(body), "portgate is running") {
				t.Errorf("http on 80: %v\n%s", err, body)
			}
			if tc.names != "" && len(strings.Split(tc.names, ":")) != 3 && !strings.Contains(log, "LISTEN_FDNAMES has a different number of names than LISTEN_FDS") {
				t.Error("a name count other than LISTEN_FDS was not reported")
			}
		})
	}
}

// TestAdoptMissingNameUsesAddress starts the server with the socket of
// its "web" service inherited without a name, and then with no socket at
// all. The first must serve on the inherited socket, matched by address;
// the second must bind the configured address through the helper, never
// another port.
func TestAdoptMissingNameUsesAddress(t *testing.T) {
	requireRoot(t)
	writePolicy(t, basePolicy)
	helper := installHelper(t, "cap_net_bind_service=+ep")
	config := "[[service]]\nname = \"web\"\nkind = \"http\"\nlisten = [\"tcp://127.0.0.1:80\"]\n"

	ns := newNetns(t)
	argv := append([]string{buildTool(t, "fdpass"), "tcp-listen=127.0.0.1:80", "--"}, serveArgv(t, helper, config)...)
	srv, err := startParent(t, ns, argv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !logHas(srv.log.String(), `"service":"web"`, `"address":"127.0.0.1:80"`, `"inherited":true`) {
		t.Error("web did not serve on the unnamed inherited socket")
	}

	ns2 := newNetns(t)
	srv2 := startServer(t, ns2, nobodyUID, helper, config)
	if !logHas(srv2.log.String(), `"service":"web"`, `"address":"127.0.0.1:80"`, `"from_helper":true`) {
		t.Error("without an inherited socket, web did not bind 127.0.0.1:80 through the helper")
	}
}
