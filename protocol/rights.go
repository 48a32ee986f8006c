package protocol

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// controlSpace is the size of a receive buffer for control messages: room
// for MaxFDsPerFrame descriptors plus a credentials message that the
// kernel adds when the receiving socket has SO_PASSCRED set.
var controlSpace = unix.CmsgSpace(4*MaxFDsPerFrame) + unix.CmsgSpace(64)

// ParseRights walks every control message in oob and returns the
// descriptors of all SCM_RIGHTS messages, in order. Other messages, such as
// credentials, are skipped. On error it closes every descriptor it found,
// so the caller owns the result only when err is nil.
func ParseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("parse control messages: %w", err)
	}
	var fds []int
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_RIGHTS {
			continue
		}
		got, err := unix.ParseUnixRights(m)
		if err != nil {
			CloseAll(fds)
			return nil, fmt.Errorf("parse SCM_RIGHTS message: %w", err)
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

// CloseAll closes every descriptor in fds. It is for descriptors that a
// receiver did not expect or cannot use.
func CloseAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
