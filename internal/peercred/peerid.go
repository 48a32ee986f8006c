package peercred

import (
	"encoding/binary"
	"fmt"
)

// peerIDSize is the size in bytes of AIX's struct peercred_struct, which
// getsockopt(SOL_SOCKET, SO_PEERID) fills in: pid_t pid, uid_t euid and
// gid_t egid, each 32 bits wide with no padding.
const peerIDSize = 12

// noID is (uid_t)-1 and (gid_t)-1, the value that chown and setreuid take
// to mean "leave unchanged". No account holds it, so a peer credential
// with this value carries no identity.
const noID = ^uint32(0)

// decodePeerID decodes a struct peercred_struct as AIX on ppc64 stores
// it, big-endian. It rejects any size other than peerIDSize, because a
// shorter result means the kernel filled in only part of the struct.
func decodePeerID(b []byte) (Cred, error) {
	if len(b) != peerIDSize {
		return Cred{}, fmt.Errorf("SO_PEERID returned %d bytes, want %d", len(b), peerIDSize)
	}
	pid := int32(binary.BigEndian.Uint32(b[0:4]))
	euid := binary.BigEndian.Uint32(b[4:8])
	egid := binary.BigEndian.Uint32(b[8:12])
	return fromIDs(euid, egid, pid)
}

// fromIDs checks the effective uid and gid a kernel reported for a peer
// and builds its Cred. A negative pid, which the kernel reports when it
// does not know the pid, becomes 0, the value Cred uses for unknown.
func fromIDs(euid, egid uint32, pid int32) (Cred, error) {
	if euid == noID {
		return Cred{}, fmt.Errorf("the kernel reported no effective uid for the peer (uid %d)", euid)
	}
	if egid == noID {
		return Cred{}, fmt.Errorf("the kernel reported no effective gid for the peer of uid %d (gid %d)", euid, egid)
	}
	if pid < 0 {
		pid = 0
	}
	return Cred{UID: euid, GID: egid, PID: pid}, nil
}

// checkPeerZone rejects a peer whose Solaris or illumos zone differs from
// the zone of this process. Each zone has accounts of its own, so a uid
// from another zone, which can reach a socket through a loopback mount,
// names someone else. The kernel reports -1 for an unknown zone, which
// never matches, so such a peer is rejected too.
func checkPeerZone(peerZone, ownZone int32) error {
	if peerZone != ownZone {
		return fmt.Errorf("the peer runs in zone %d, not in this process's zone %d, so its uid may name another account: connect from zone %d, or run portgate in zone %d", peerZone, ownZone, ownZone, peerZone)
	}
	return nil
}
