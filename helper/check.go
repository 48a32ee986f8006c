package helper

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/portgate/portgate/protocol"
)

// CheckBind binds a TCP socket on addr:port and closes it at once, to test
// the mechanism the helper holds. It only accepts loopback addresses, so
// it cannot be used to probe or disturb the host's real services.
func CheckBind(addr netip.Addr, port uint16) error {
	if !addr.IsLoopback() {
		return fmt.Errorf("check address %s is not a loopback address", addr)
	}
	t, err := resolve(protocol.BindSpec{Network: protocol.TCP, Flags: protocol.ReuseAddr, Port: uint32(port), Address: addr.String()})
	if err != nil {
		return err
	}
	fd, err := bind(&t)
	if err != nil {
		return err
	}
	unix.Close(fd)
	return nil
}
