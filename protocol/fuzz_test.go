package protocol

import (
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary frame bodies to Decode. Whatever decodes must
// encode again to the same bytes, so the decoder accepts nothing the
// encoder could not have produced. The seed corpus in testdata/fuzz runs
// with every plain `go test`.
func FuzzDecode(f *testing.F) {
	seeds := []Message{
		&Hello{MinVersion: 1, MaxVersion: 1},
		&Welcome{Version: 1, Mechanism: "cap_net_bind_service"},
		&BindRequest{ID: 1, Binds: []BindSpec{{Network: TCP, Port: 80}, {Network: UDP6, Port: 53, Address: "fe80::1%eth0"}}},
		&Grant{ID: 1, First: 0, Count: 1, Total: 1},
		&Error{ID: 1, Code: CodeDenied, Index: NoIndex, Message: "denied"},
	}
	for _, m := range seeds {
		body, err := Encode(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := Decode(body)
		if err != nil {
			return
		}
		again, err := Encode(m)
		if err != nil {
			t.Fatalf("Encode of decoded %#v: %v", m, err)
		}
		m2, err := Decode(again)
		if err != nil {
			t.Fatalf("Decode of re-encoded %#v: %v", m, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("re-decoded %#v, want %#v", m2, m)
		}
		if string(again) != string(body) {
			t.Fatalf("re-encoded %x, want %x", again, body)
		}
		if r, ok := m.(*BindRequest); ok {
			for i := range r.Binds {
				_ = r.Binds[i].Validate()
				_ = r.Binds[i].String()
			}
		}
	})
}
