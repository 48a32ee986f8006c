package helper

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
func decodePeerID(b []byte) (Peer, error) {
	if len(b) != peerIDSize {
		return Peer{}, fmt.Errorf("SO_PEERID returned %d bytes, want %d", len(b), peerIDSize)
	}
	pid := int32(binary.BigEndian.Uint32(b[0:4]))
	euid := binary.BigEndian.Uint32(b[4:8])
	egid := binary.BigEndian.Uint32(b[8:12])
	return peerFromIDs(euid, egid, pid)
}

// peerFromIDs checks the effective uid and gid a kernel reported for a
// peer and builds its Peer. A negative pid, which the kernel reports when
// it does not know the pid, becomes 0, the value Peer uses for unknown.
func peerFromIDs(euid, egid uint32, pid int32) (Peer, error) {
	if euid == noID {
		return Peer{}, fmt.Errorf("the kernel reported no effective uid for the peer (uid %d)", euid)
	}
	if egid == noID {
		return Peer{}, fmt.Errorf("the kernel reported no effective gid for the peer of uid %d (gid %d)", euid, egid)
	}
	if pid < 0 {
		pid = 0
	}
	return Peer{UID: euid, GID: egid, PID: pid}, nil
}

// checkPeerZone rejects a peer whose Solaris or illumos zone differs from
// the helper's own. Each zone has accounts of its own, so a uid from
// another zone, which can reach a daemon's socket through a loopback
// mount, names someone else. The kernel reports -1 for an unknown zone,
// which never matches, so such a peer is rejected too.
func checkPeerZone(peerZone, ownZone int32) error {
	if peerZone != ownZone {
		return fmt.Errorf("the peer runs in zone %d, not in the helper's zone %d: run a helper daemon in each zone", peerZone, ownZone)
	}
	return nil
}
