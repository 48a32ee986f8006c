package helper

import (
	"encoding/binary"
	"strings"
	"testing"
)

// Magic words of vfs_cap_data, from linux/capability.h.
const (
	vfsCapRevision1 = 0x01000000
	vfsCapRevision2 = 0x02000000
	vfsCapRevision3 = 0x03000000
	vfsCapEffective = 0x000001
)

// capData encodes words as the little-endian 32-bit values of a
// security.capability extended attribute.
func capData(words ...uint32) []byte {
	b := make([]byte, 0, 4*len(words))
	for _, w := range words {
		b = binary.LittleEndian.AppendUint32(b, w)
	}
	return b
}

const bindService = 1 << 10 // CAP_NET_BIND_SERVICE

func TestParseFileCaps(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want fileCaps
	}{
		{"revision 1",
			capData(vfsCapRevision1, bindService, 0x2),
			fileCaps{Permitted: bindService, Inheritable: 0x2}},
		{"revision 1 effective",
			capData(vfsCapRevision1|vfsCapEffective, bindService, 0),
			fileCaps{Permitted: bindService, Effective: true}},
		{"revision 2",
			capData(vfsCapRevision2, bindService, 0x2, 0x1, 0x8),
			fileCaps{Permitted: 1<<32 | bindService, Inheritable: 0x8<<32 | 0x2}},
		{"revision 2 effective",
			capData(vfsCapRevision2|vfsCapEffective, bindService, 0, 0, 0),
			fileCaps{Permitted: bindService, Effective: true}},
		{"revision 2 high words only",
			capData(vfsCapRevision2, 0, 0, 0x80000000, 0x40000000),
			fileCaps{Permitted: 0x80000000 << 32, Inheritable: 0x40000000 << 32}},
		{"revision 3",
			capData(vfsCapRevision3, bindService, 0x2, 0x1, 0x8, 1000),
			fileCaps{Permitted: 1<<32 | bindService, Inheritable: 0x8<<32 | 0x2}},
		{"revision 3 effective",
			capData(vfsCapRevision3|vfsCapEffective, bindService, 0, 0, 0, 0),
			fileCaps{Permitted: bindService, Effective: true}},
		{"revision 3 all bits",
			capData(vfsCapRevision3, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff),
			fileCaps{Permitted: ^uint64(0), Inheritable: ^uint64(0)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFileCaps(tc.data)
			if err != nil {
				t.Fatalf("parseFileCaps(%x): %v", tc.data, err)
			}
			if got.Permitted != tc.want.Permitted {
				t.Errorf("Permitted: got %#x, want %#x", got.Permitted, tc.want.Permitted)
			}
			if got.Inheritable != tc.want.Inheritable {
				t.Errorf("Inheritable: got %#x, want %#x", got.Inheritable, tc.want.Inheritable)
			}
			if got.Effective != tc.want.Effective {
				t.Errorf("Effective: got %t, want %t", got.Effective, tc.want.Effective)
			}
		})
	}
}

// The rootid of revision 3 names the namespace root that owns the
// capability. It must not leak into either set.
func TestParseFileCapsIgnoresRootID(t *testing.T) {
	a, err := parseFileCaps(capData(vfsCapRevision3, bindService, 0, 0, 0, 0))
	if err != nil {
		t.Fatalf("rootid 0: %v", err)
	}
	b, err := parseFileCaps(capData(vfsCapRevision3, bindService, 0, 0, 0, 0xffffffff))
	if err != nil {
		t.Fatalf("rootid 0xffffffff: %v", err)
	}
	if a != b {
		t.Errorf("rootid 0xffffffff: got %+v, want %+v as with rootid 0", b, a)
	}
}

func TestParseFileCapsRejects(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want string // substring of the error
	}{
		{"empty", nil, "0 bytes is too short"},
		{"three bytes", []byte{0, 0, 0}, "3 bytes is too short"},
		{"revision 1 magic only", capData(vfsCapRevision1), "revision 1 file capability of 4 bytes, want 12"},
		{"revision 1 missing inheritable", capData(vfsCapRevision1, bindService), "revision 1 file capability of 8 bytes, want 12"},
		{"revision 1 one byte short", capData(vfsCapRevision1, bindService, 0)[:11], "of 11 bytes, want 12"},
		{"revision 2 as long as revision 1", capData(vfsCapRevision2, bindService, 0), "revision 2 file capability of 12 bytes, want 20"},
		{"revision 2 one byte short", capData(vfsCapRevision2, bindService, 0, 0, 0)[:19], "revision 2 file capability of 19 bytes"},
		{"revision 3 one byte short of revision 2", capData(vfsCapRevision3, bindService, 0, 0, 0)[:19], "revision 3 file capability of 19 bytes"},
		{"revision 0", capData(0, bindService, 0, 0, 0), "unknown file capability revision 0x0"},
		{"revision 4", capData(0x04000000, bindService, 0, 0, 0, 0), "unknown file capability revision 0x4000000"},
		{"big-endian revision 2", []byte{2, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, "unknown file capability revision"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFileCaps(tc.data)
			if err == nil {
				t.Fatalf("parseFileCaps(%x): got %+v, want an error containing %q", tc.data, got, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error: got %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// The kernel accepts a security.capability value only at the exact size of
// its revision: 12, 20 or 24 bytes (XATTR_CAPS_SZ_1, _2 and _3, checked in
// get_vfs_caps_from_disk in security/commoncap.c). A value of any other
// size grants nothing.
func TestParseFileCapsExactSize(t *testing.T) {
	cases := []struct {
		name string
		data []byte
	}{
		{"revision 3 without rootid", capData(vfsCapRevision3, bindService, 0, 0, 0)},
		{"revision 3 one byte short", capData(vfsCapRevision3, bindService, 0, 0, 0, 0)[:23]},
		{"revision 1 with trailing word", capData(vfsCapRevision1, bindService, 0, 0)},
		{"revision 2 with trailing word", capData(vfsCapRevision2, bindService, 0, 0, 0, 0)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := parseFileCaps(tc.data); err == nil {
				t.Errorf("parseFileCaps(%x): got %+v, want an error for %d bytes", tc.data, got, len(tc.data))
			}
		})
	}
}
