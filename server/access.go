package server

import (
	"fmt"
	"os"
	"os/user"
	"strconv"

	"github.com/portgate/portgate/internal/peercred"
)

// PeerCred is the identity the kernel reports for the other end of a Unix
// socket.
type PeerCred = peercred.Cred

// Access lists who may use the Local Manager.
type Access struct {
	UIDs map[uint32]bool
	GIDs map[uint32]bool
	// SocketGID is the group the socket file gets, the first of the
	// configured groups, or -1 to keep the server's own.
	SocketGID int
}

// NewAccess resolves account and group names or numbers. The server's own
// account and root are always allowed: both can already control the
// server process.
func NewAccess(users, groups []string) (Access, error) {
	a := Access{UIDs: map[uint32]bool{0: true, uint32(os.Getuid()): true}, GIDs: map[uint32]bool{}, SocketGID: -1}
	if err := addIDs(a.UIDs, users, uidOf); err != nil {
		return Access{}, fmt.Errorf("manager users: %w", err)
	}
	if err := addIDs(a.GIDs, groups, gidOf); err != nil {
		return Access{}, fmt.Errorf("manager groups: %w", err)
	}
	if len(groups) > 0 {
		gid, _ := lookupID(groups[0], gidOf)
		a.SocketGID = int(gid)
	}
	return a, nil
}

func uidOf(name string) (string, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return "", err
	}
	return u.Uid, nil
}

func gidOf(name string) (string, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		return "", err
	}
	return g.Gid, nil
}

// addIDs adds each name to ids, as a number or through lookup.
func addIDs(ids map[uint32]bool, names []string, lookup func(string) (string, error)) error {
	for _, n := range names {
		id, err := lookupID(n, lookup)
		if err != nil {
			return err
		}
		ids[id] = true
	}
	return nil
}

// lookupID returns name as a number, or looks it up.
func lookupID(name string, lookup func(string) (string, error)) (uint32, error) {
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		return uint32(n), nil
	}
	idText, err := lookup(name)
	if err != nil {
		return 0, fmt.Errorf("%q is neither a number nor a known name: %w", name, err)
	}
	n, err := strconv.ParseUint(idText, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%q has the non-numeric id %q", name, idText)
	}
	return uint32(n), nil
}

// Allows reports whether the peer may use the Local Manager: its uid is
// listed, or its gid or one of its groups is.
func (a Access) Allows(c PeerCred) bool {
	return a.UIDs[c.UID] || c.MemberOf(a.GIDs)
}

// othersNeeded reports whether some allowed uid is neither the server's
// own nor root. The socket file must then be writable by others for that
// account to connect, and peer credentials do the checking.
func (a Access) othersNeeded() bool {
	for uid := range a.UIDs {
		if uid != 0 && uid != uint32(os.Getuid()) {
			return true
		}
	}
	return false
}
