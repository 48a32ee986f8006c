package protocol

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		msg  Message
	}{
		{"hello", &Hello{MinVersion: 1, MaxVersion: 3}},
		{"welcome", &Welcome{Version: 1, Mechanism: "file capability cap_net_bind_service"}},
		{"bind one", &BindRequest{ID: 7, Binds: []BindSpec{{Network: TCP, Flags: ReuseAddr, Port: 80, Backlog: 128}}}},
		{"bind zone", &BindRequest{ID: 8, Binds: []BindSpec{{Network: TCP6, Flags: V6Only, Port: 443, Address: "fe80::1%eth0"}}}},
		{"bind many", &BindRequest{ID: 9, Binds: []BindSpec{
			{Network: UDP4, Port: 53, Address: "127.0.0.1"},
			{Network: UDP6, Port: 53, Address: "::1"},
		}}},
		{"grant", &Grant{ID: 9, First: 64, Count: 2, Total: 66}},
		{"error", &Error{ID: 9, Code: CodeDenied, Index: 1, Message: "port 81 is not in the policy"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, err := Encode(tc.msg)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got, err := Decode(body)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tc.msg) {
				t.Errorf("round trip: got %#v, want %#v", got, tc.msg)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	valid, _ := Encode(&BindRequest{ID: 1, Binds: []BindSpec{{Network: TCP, Port: 80, Address: "::1"}}})
	cases := []struct {
		name string
		body []byte
		want string
	}{
		{"empty", nil, "empty body"},
		{"unknown type", []byte{99}, "unknown message type 99"},
		{"short hello", []byte{1, 0}, "truncated"},
		{"trailing bytes", append(append([]byte{}, valid...), 0), "trailing bytes"},
		{"truncated address", valid[:len(valid)-1], "truncated"},
		{"zero binds", []byte{3, 0, 0, 0, 1, 0, 0}, "0 sockets requested"},
		{"too many binds", []byte{3, 0, 0, 0, 1, 0x04, 0x01}, "1025 sockets requested"},
		{"count beyond body", []byte{3, 0, 0, 0, 1, 0, 200, 1, 0}, "200 sockets need"},
		{"grant of zero", []byte{4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1}, "grant of 0 descriptors"},
		{"grant past total", []byte{4, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1}, "exceeds the total"},
		{"long message", append([]byte{5, 0, 0, 0, 1, 0, 1, 0, 0, 0x10, 0x00}, make([]byte, 4096)...), "exceeds 1024"},
		{"invalid utf8", []byte{5, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0xff}, "UTF-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(tc.body)
			if err == nil {
				t.Fatalf("Decode: got %#v, want an error", m)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %q does not wrap ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestBindSpecValidate(t *testing.T) {
	cases := []struct {
		name string
		spec BindSpec
		want string // "" for valid
	}{
		{"wildcard tcp", BindSpec{Network: TCP, Port: 80}, ""},
		{"ipv4", BindSpec{Network: TCP4, Port: 80, Address: "127.0.0.1"}, ""},
		{"ipv6 zone", BindSpec{Network: TCP6, Port: 80, Address: "fe80::1%lo"}, ""},
		{"port 0", BindSpec{Network: TCP, Port: 0}, "port 0 out of range"},
		{"port 65536", BindSpec{Network: TCP, Port: 65536}, "port 65536 out of range"},
		{"network 0", BindSpec{Network: 0, Port: 80}, "unknown network 0"},
		{"network 7", BindSpec{Network: 7, Port: 80}, "unknown network 7"},
		{"unknown flag", BindSpec{Network: TCP, Port: 80, Flags: 0x80}, "unknown flag bits"},
		{"hostname", BindSpec{Network: TCP, Port: 80, Address: "localhost"}, "invalid address"},
		{"v6 on tcp4", BindSpec{Network: TCP4, Port: 80, Address: "::1"}, "not IPv4"},
		{"v4 on udp6", BindSpec{Network: UDP6, Port: 80, Address: "127.0.0.1"}, "is IPv4"},
		{"link-local no zone", BindSpec{Network: TCP6, Port: 80, Address: "fe80::1"}, "needs a zone"},
		{"zone not link-local", BindSpec{Network: TCP6, Port: 80, Address: "2001:db8::1%eth0"}, "not link-local"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate: got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestErrorMatchesCode(t *testing.T) {
	var err error = &Error{Code: CodeDenied, Message: "no rule"}
	if !errors.Is(err, CodeDenied) {
		t.Errorf("errors.Is(%v, CodeDenied) = false, want true", err)
	}
	if errors.Is(err, CodeAddrInUse) {
		t.Errorf("errors.Is(%v, CodeAddrInUse) = true, want false", err)
	}
}

func TestEncodeTruncatesLongError(t *testing.T) {
	msg := strings.Repeat("é", MaxMessageLen) // 2 bytes each
	body, err := Encode(&Error{Code: CodeInvalid, Message: msg})
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	m, err := Decode(body)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if got := len(m.(*Error).Message); got != MaxMessageLen {
		t.Errorf("message length %d, want %d", got, MaxMessageLen)
	}
}
