package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed message")

// Decode parses one frame body. It checks every length against the bytes
// present and the limits of the wire format, rejects trailing bytes, and
// never allocates more than the body's size.
func Decode(body []byte) (Message, error) {
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: empty body", ErrMalformed)
	}
	d := decoder{b: body[1:]}
	var m Message
	switch Type(body[0]) {
	case TypeHello:
		m = &Hello{MinVersion: d.u16(), MaxVersion: d.u16()}
	case TypeWelcome:
		m = &Welcome{Version: d.u16(), Mechanism: d.string16()}
	case TypeBindRequest:
		m = d.bindRequest()
	case TypeGrant:
		g := &Grant{ID: d.u32(), First: d.u16(), Count: d.u16(), Total: d.u16()}
		d.checkGrant(g)
		m = g
	case TypeError:
		m = &Error{ID: d.u32(), Code: Code(d.u16()), Index: d.u16(), Message: d.string16()}
	default:
		return nil, fmt.Errorf("%w: unknown message type %d", ErrMalformed, body[0])
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: type %d: %s", ErrMalformed, body[0], d.err)
	}
	return m, nil
}

// decoder reads big-endian fields and records the first error; after an
// error every read returns zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
	d.b = nil
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.fail("truncated: need %d more bytes, have %d", n, len(d.b))
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) u8() uint8 {
	if p := d.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if p := d.take(2); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if p := d.take(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) text(n, limit int) string {
	if n > limit {
		d.fail("text of %d bytes exceeds %d", n, limit)
		return ""
	}
	p := d.take(n)
	if p != nil && !utf8.Valid(p) {
		d.fail("text is not valid UTF-8")
		return ""
	}
	return string(p)
}

func (d *decoder) string16() string { return d.text(int(d.u16()), MaxMessageLen) }

func (d *decoder) bindRequest() *BindRequest {
	r := &BindRequest{ID: d.u32()}
	n := int(d.u16())
	if d.err == nil && (n == 0 || n > MaxBindsPerRequest) {
		d.fail("%d sockets requested, want 1 to %d", n, MaxBindsPerRequest)
	}
	// Each spec takes at least 11 bytes, so a count larger than the bytes
	// present can be rejected before the slice is allocated.
	const minSpec = 11
	if d.err == nil && n*minSpec > len(d.b) {
		d.fail("truncated: %d sockets need at least %d bytes, have %d", n, n*minSpec, len(d.b))
	}
	if d.err != nil {
		return r
	}
	r.Binds = make([]BindSpec, n)
	for i := range r.Binds {
		s := &r.Binds[i]
		s.Network = Network(d.u8())
		s.Flags = Flags(d.u8())
		s.Port = d.u32()
		s.Backlog = d.u32()
		s.Address = d.text(int(d.u8()), maxAddressLen)
	}
	return r
}

func (d *decoder) checkGrant(g *Grant) {
	if d.err != nil {
		return
	}
	switch {
	case g.Count == 0 || g.Count > MaxFDsPerFrame:
		d.fail("grant of %d descriptors, want 1 to %d", g.Count, MaxFDsPerFrame)
	case int(g.First)+int(g.Count) > int(g.Total):
		d.fail("grant of sockets %d to %d exceeds the total of %d", g.First, int(g.First)+int(g.Count)-1, g.Total)
	}
}
