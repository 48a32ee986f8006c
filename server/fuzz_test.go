package server

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzDecodeService feeds Local Manager request bodies, which come from any
// peer the access list admits, to the decoder. A service it accepts is
// written to the services file on disk, so it must come back unchanged
// when a restarted server reads that file.
func FuzzDecodeService(f *testing.F) {
	seeds := []string{
		`{"name":"web","kind":"http","listen":["tcp://:80"]}`,
		`{"name":"web","kind":"http","listen":["tcp://127.0.0.1:80","tcp6://[::1]:80"],"root":"/srv/www","drain_timeout":"5s"}`,
		`{"name":"relay","kind":"proxy","listen":["tcp://:443"],"backend":"127.0.0.1:8443"}`,
		`{"name":"dns","kind":"echo","listen":["udp://:53"]}`,
		`{"name":"job","kind":"exec","command":["/usr/bin/prog","--flag","a b"]}`,
		`{"name":"app","kind":"exec","listen":["tcp://:25"],"command":["/bin/sh","-c","exec \"$0\""]}`,
		`{"name":"x","kind":"http","listen":["tcp://:80"],"unknown":1}`,
		`{"name":"","kind":"http"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		service, err := decodeService(bytes.NewReader(body))
		if err != nil {
			return
		}
		text, err := encodeServicesFile([]ServiceConfig{service})
		if err != nil {
			t.Fatalf("encode accepted service %#v: %v", service, err)
		}
		loaded, err := parseServicesFile(text)
		if err != nil {
			t.Fatalf("services file of accepted service %#v does not load: %v\n%s", service, err, text)
		}
		if len(loaded) != 1 {
			t.Fatalf("services file of %#v loads %d services, expected 1\n%s", service, len(loaded), text)
		}
		if !reflect.DeepEqual(normalized(loaded[0]), normalized(service)) {
			t.Fatalf("service %#v loads back as %#v\n%s", service, loaded[0], text)
		}
	})
}

// normalized treats an empty list and a missing one as the same, as the
// server does.
func normalized(s ServiceConfig) ServiceConfig {
	if len(s.Listen) == 0 {
		s.Listen = nil
	}
	if len(s.Command) == 0 {
		s.Command = nil
	}
	return s
}
