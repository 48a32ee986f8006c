package helper

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/portgate/portgate/protocol"
)

func TestMacOSWildcardBindFree(t *testing.T) {
	cases := []struct {
		version string
		want    bool
	}{
		{"10.13.6", false},
		{"10.14", true},
		{"10.14.6", true},
		{"10.15.7\n", true},
		{"11.7.10", true},
		{"14.2", true},
		{"9.9", false},
		{"10", false},
		{"", false},
		{"ten", false},
	}
	for _, tc := range cases {
		if got := MacOSWildcardBindFree(tc.version); got != tc.want {
			t.Errorf("MacOSWildcardBindFree(%q): got %t, want %t", tc.version, got, tc.want)
		}
	}
}

func TestSolarisRemedies(t *testing.T) {
	got := SolarisRemedies("portgate", "svc:/network/portgate-helper:default")
	want := []string{
		"svccfg -s svc:/network/portgate-helper:default setprop start/privileges = astring: basic,net_privaddr",
		"usermod -K defaultpriv=basic,net_privaddr portgate",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d remedies, want %d: %q", len(got), len(want), got)
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("remedy %d: got %q, want it to contain %q", i, got[i], want[i])
		}
	}
}

func TestAIXRemedies(t *testing.T) {
	got := AIXRemedies("/usr/libexec/portgate/portgate-helper")
	want := "setsecattr -c innateprivs=PV_NET_PORT /usr/libexec/portgate/portgate-helper && setkst"
	if len(got) != 1 || !strings.Contains(got[0], want) {
		t.Errorf("got %q, want one remedy containing %q", got, want)
	}
}

func TestProbeOutcome(t *testing.T) {
	cases := []struct {
		name    string
		err     error
		held    bool
		wantErr bool
	}{
		{"bound", nil, true, false},
		{"in use", &bindError{protocol.CodeAddrInUse, syscall.EADDRINUSE}, true, false},
		{"no privilege", &bindError{protocol.CodeNoPrivilege, syscall.EACCES}, false, false},
		{"no address", &bindError{protocol.CodeAddrNotAvail, syscall.EADDRNOTAVAIL}, false, true},
		{"socket failed", errors.New("socket: too many open files"), false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			held, err := probeOutcome(tc.err)
			if held != tc.held {
				t.Errorf("held: got %t, want %t", held, tc.held)
			}
			if (err != nil) != tc.wantErr {
				t.Errorf("error: got %v, want error %t", err, tc.wantErr)
			}
		})
	}
}
