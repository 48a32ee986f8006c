package server

import (
	"os"
	"strings"
	"testing"
)

func TestNewAccessResolvesNames(t *testing.T) {
	a, err := NewAccess([]string{"root", "4242"}, []string{"0", "4343"})
	if err != nil {
		t.Fatalf("NewAccess: %v", err)
	}
	for _, uid := range []uint32{0, 4242, uint32(os.Getuid())} {
		if !a.UIDs[uid] {
			t.Errorf("uid %d not allowed, want allowed", uid)
		}
	}
	for _, gid := range []uint32{0, 4343} {
		if !a.GIDs[gid] {
			t.Errorf("gid %d not allowed, want allowed", gid)
		}
	}
	if a.SocketGID != 0 {
		t.Errorf("SocketGID %d, want 0, the first group", a.SocketGID)
	}
	if a.Allows(PeerCred{UID: 5000, GID: 5000}) {
		t.Error("uid 5000 gid 5000 allowed, want rejected")
	}
	if !a.Allows(PeerCred{UID: 5000, GID: 4343}) {
		t.Error("gid 4343 rejected, want allowed through groups")
	}
	if !a.Allows(PeerCred{UID: 5000, GID: 5000, Groups: []uint32{5000, 4343}}) {
		t.Error("supplementary group 4343 rejected, expected allowed")
	}
	if a.Allows(PeerCred{UID: 5000, GID: 5000, Groups: []uint32{5000, 5001}}) {
		t.Error("groups 5000 and 5001 allowed, expected rejected")
	}
}

func TestNewAccessUnknownName(t *testing.T) {
	_, err := NewAccess([]string{"no-such-account-pg"}, nil)
	if err == nil || !strings.Contains(err.Error(), `manager users: "no-such-account-pg" is neither a number nor a known name`) {
		t.Errorf("got %v, want an error naming the account", err)
	}
	_, err = NewAccess(nil, []string{"no-such-group-pg"})
	if err == nil || !strings.Contains(err.Error(), "manager groups:") {
		t.Errorf("got %v, want an error naming the groups key", err)
	}
}
