package server

import (
	"testing"

	"github.com/portgate/portgate/protocol"
)

// As root, or for a port that needs no privilege, the probe must not
// report a denial, and it must leave the port free.
func TestProbeBindAllowed(t *testing.T) {
	for _, spec := range []protocol.BindSpec{
		{Network: protocol.TCP, Port: 8080},
		{Network: protocol.UDP4, Port: 0},
		{Network: protocol.TCP6, Address: "fe80::1%lo", Port: 80},
	} {
		if err := probeBind(spec); err != nil {
			t.Errorf("probe of %s: %v, want nil", spec.String(), err)
		}
	}
}
