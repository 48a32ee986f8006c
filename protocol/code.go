package protocol

import "fmt"

// Code is the stable error code of an Error message. Values never change
// meaning; new codes are only added.
type Code uint16

// Error codes.
const (
	// CodeInvalid: the request is malformed or names an impossible socket.
	CodeInvalid Code = 1
	// CodeDenied: the helper's policy does not allow this peer this socket.
	CodeDenied Code = 2
	// CodeAddrInUse: bind failed with EADDRINUSE.
	CodeAddrInUse Code = 3
	// CodeAddrNotAvail: bind failed with EADDRNOTAVAIL; the address is not
	// configured on this host.
	CodeAddrNotAvail Code = 4
	// CodeVersion: no protocol version is common to both sides.
	CodeVersion Code = 5
	// CodeNoPrivilege: the helper holds no mechanism to bind privileged
	// ports; the message gives the reason and the way to grant one.
	CodeNoPrivilege Code = 6
	// CodeLimit: a limit of the helper was reached.
	CodeLimit Code = 7
	// CodeBindFailed: socket, setsockopt, bind or listen failed for another
	// reason; the message carries the system error.
	CodeBindFailed Code = 8
	// CodeHelperFailed: the helper could not start; the message gives the reason.
	CodeHelperFailed Code = 9
	// CodeConnectionSpent: this connection was granted as many sockets as
	// the helper grants one connection; a new connection starts afresh.
	CodeConnectionSpent Code = 10
)

var codeNames = map[Code]string{
	CodeInvalid:         "invalid request",
	CodeDenied:          "denied by policy",
	CodeAddrInUse:       "address in use",
	CodeAddrNotAvail:    "address not available",
	CodeVersion:         "unsupported protocol version",
	CodeNoPrivilege:     "no privilege to bind",
	CodeLimit:           "limit reached",
	CodeBindFailed:      "bind failed",
	CodeHelperFailed:    "helper failed to start",
	CodeConnectionSpent: "connection used up",
}

func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("error code %d", uint16(c))
}

// Error lets a Code be used as an errors.Is target.
func (c Code) Error() string { return c.String() }
