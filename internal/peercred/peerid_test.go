package peercred

import (
	"encoding/binary"
	"strings"
	"testing"
)

// peerID encodes a struct peercred_struct as AIX on ppc64 stores it.
func peerID(pid int32, euid, egid uint32) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(pid))
	b = binary.BigEndian.AppendUint32(b, euid)
	return binary.BigEndian.AppendUint32(b, egid)
}

func TestDecodePeerID(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want Cred
	}{
		{"service account", peerID(4242, 203, 201), Cred{UID: 203, GID: 201, PID: 4242}},
		{"root", peerID(1, 0, 0), Cred{UID: 0, GID: 0, PID: 1}},
		{"nobody", peerID(77, 4294967294, 4294967294), Cred{UID: 4294967294, GID: 4294967294, PID: 77}},
		{"largest pid", peerID(0x7fffffff, 1000, 1000), Cred{UID: 1000, GID: 1000, PID: 0x7fffffff}},
		{"unknown pid", peerID(-1, 1000, 100), Cred{UID: 1000, GID: 100, PID: 0}},
		{"byte order", []byte{0, 0, 0x12, 0x34, 0, 0, 0x01, 0x02, 0, 0, 0x03, 0x04}, Cred{UID: 0x0102, GID: 0x0304, PID: 0x1234}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodePeerID(tc.data)
			if err != nil {
				t.Fatalf("decodePeerID(%x): %v", tc.data, err)
			}
			if got.UID != tc.want.UID {
				t.Errorf("UID: got %d, want %d", got.UID, tc.want.UID)
			}
			if got.GID != tc.want.GID {
				t.Errorf("GID: got %d, want %d", got.GID, tc.want.GID)
			}
			if got.PID != tc.want.PID {
				t.Errorf("PID: got %d, want %d", got.PID, tc.want.PID)
			}
		})
	}
}

func TestDecodePeerIDRejects(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want string // substring of the error
	}{
		{"empty", nil, "returned 0 bytes, want 12"},
		{"pid only", peerID(1, 0, 0)[:4], "returned 4 bytes, want 12"},
		{"one byte short", peerID(1, 0, 0)[:11], "returned 11 bytes, want 12"},
		{"one byte long", append(peerID(1, 0, 0), 0), "returned 13 bytes, want 12"},
		{"no uid", peerID(1, 0xffffffff, 0), "no effective uid"},
		{"no gid", peerID(1, 1000, 0xffffffff), "no effective gid for the peer of uid 1000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodePeerID(tc.data)
			if err == nil {
				t.Fatalf("decodePeerID(%x): got %+v, want an error containing %q", tc.data, got, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error: got %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestCheckPeerZone(t *testing.T) {
	if err := checkPeerZone(0, 0); err != nil {
		t.Errorf("global zone peer of the global zone: %v", err)
	}
	if err := checkPeerZone(5, 5); err != nil {
		t.Errorf("zone 5 peer of zone 5: %v", err)
	}
	cases := []struct {
		name       string
		peer, own  int32
		wantSubstr string
	}{
		{"non-global peer of the global zone", 3, 0, "zone 3, not in this process's zone 0"},
		{"global peer of a non-global zone", 0, 3, "zone 0, not in this process's zone 3"},
		{"unknown zone", -1, 0, "zone -1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkPeerZone(tc.peer, tc.own)
			if err == nil {
				t.Fatalf("checkPeerZone(%d, %d): got nil, want an error", tc.peer, tc.own)
			}
			if !strings.Contains(err.Error(), tc.wantSubstr) {
				t.Errorf("error: got %q, want it to contain %q", err, tc.wantSubstr)
			}
		})
	}
}
