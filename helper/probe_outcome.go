package helper

import (
	"errors"
	"fmt"

	"github.com/portgate/portgate/protocol"
)

// probePort is the privileged port the helper binds on loopback to learn
// whether it holds the bind right, where it cannot read its privileges
// without libc. The socket is closed at once and never listens.
const probePort = 1023

// probeOutcome maps the error of a probe bind to whether the bind right is
// held. Errors other than a missing privilege or a port in use say nothing
// about the right and are returned.
func probeOutcome(err error) (bool, error) {
	var be *bindError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &be) && be.code == protocol.CodeAddrInUse:
		return true, nil
	case errors.As(err, &be) && be.code == protocol.CodeNoPrivilege:
		return false, nil
	}
	return false, fmt.Errorf("probe bind of 127.0.0.1:%d: %w", probePort, err)
}
