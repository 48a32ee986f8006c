package protocol

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Version is the newest protocol version this package speaks; MinVersion
// is the oldest.
const (
	Version    uint16 = 1
	MinVersion uint16 = 1
)

// Limits of the wire format. Both sides check them before allocating.
const (
	// MaxFrameSize is the largest frame body in bytes.
	MaxFrameSize = 65536
	// MaxBindsPerRequest is the largest number of sockets in one BindRequest.
	MaxBindsPerRequest = 1024
	// MaxFDsPerFrame is the largest number of descriptors in one Grant frame.
	// It stays well below the per-message limits of the kernels portgate
	// targets (253 on Linux).
	MaxFDsPerFrame = 64
	// MaxMessageLen is the longest text in a Welcome or Error message.
	MaxMessageLen = 1024
	// maxAddressLen is the longest address string: an IPv6 literal with a
	// zone fits easily.
	maxAddressLen = 255
)

// NoIndex in Error.Index means no single socket of the request is at fault.
const NoIndex uint16 = math.MaxUint16

// Type is the first byte of every frame body.
type Type uint8

// Message types.
const (
	TypeHello       Type = 1
	TypeWelcome     Type = 2
	TypeBindRequest Type = 3
	TypeGrant       Type = 4
	TypeError       Type = 5
)

// Message is one decoded frame body.
type Message interface {
	Type() Type
	// appendBody appends the encoded body, type byte included, to b.
	appendBody(b []byte) []byte
}

// Hello opens a connection with the range of versions the client speaks.
type Hello struct {
	MinVersion, MaxVersion uint16
}

// Welcome accepts a Hello with the chosen version and names the privilege
// mechanism the helper holds, for status displays.
type Welcome struct {
	Version   uint16
	Mechanism string
}

// BindRequest is a request to bind one or more sockets, all or none.
type BindRequest struct {
	ID    uint32
	Binds []BindSpec
}

// Grant carries Count sockets of a request, starting at request index First,
// out of Total. The descriptors travel beside the message, not inside it.
type Grant struct {
	ID                  uint32
	First, Count, Total uint16
}

// Error is the reply to a Hello or a BindRequest that failed.
type Error struct {
	ID      uint32
	Code    Code
	Index   uint16
	Message string
}

func (*Hello) Type() Type       { return TypeHello }
func (*Welcome) Type() Type     { return TypeWelcome }
func (*BindRequest) Type() Type { return TypeBindRequest }
func (*Grant) Type() Type       { return TypeGrant }
func (*Error) Type() Type       { return TypeError }

func (m *Hello) appendBody(b []byte) []byte {
	b = append(b, byte(TypeHello))
	b = binary.BigEndian.AppendUint16(b, m.MinVersion)
	return binary.BigEndian.AppendUint16(b, m.MaxVersion)
}

func (m *Welcome) appendBody(b []byte) []byte {
	b = append(b, byte(TypeWelcome))
	b = binary.BigEndian.AppendUint16(b, m.Version)
	return appendString16(b, m.Mechanism)
}

func (m *BindRequest) appendBody(b []byte) []byte {
	b = append(b, byte(TypeBindRequest))
	b = binary.BigEndian.AppendUint32(b, m.ID)
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.Binds)))
	for i := range m.Binds {
		b = m.Binds[i].appendTo(b)
	}
	return b
}

func (m *Grant) appendBody(b []byte) []byte {
	b = append(b, byte(TypeGrant))
	b = binary.BigEndian.AppendUint32(b, m.ID)
	b = binary.BigEndian.AppendUint16(b, m.First)
	b = binary.BigEndian.AppendUint16(b, m.Count)
	return binary.BigEndian.AppendUint16(b, m.Total)
}

func (m *Error) appendBody(b []byte) []byte {
	b = append(b, byte(TypeError))
	b = binary.BigEndian.AppendUint32(b, m.ID)
	b = binary.BigEndian.AppendUint16(b, uint16(m.Code))
	b = binary.BigEndian.AppendUint16(b, m.Index)
	return appendString16(b, m.Message)
}

// Error makes a protocol Error usable as a Go error on the client side.
func (m *Error) Error() string {
	return fmt.Sprintf("%s: %s", m.Code, m.Message)
}

// Is lets errors.Is match an *Error against a Code.
func (m *Error) Is(target error) bool {
	c, ok := target.(Code)
	return ok && c == m.Code
}

// Encode returns the frame body of m. It fails when m would exceed a limit
// of the wire format.
func Encode(m Message) ([]byte, error) {
	if err := checkLimits(m); err != nil {
		return nil, err
	}
	body := m.appendBody(make([]byte, 0, 64))
	if len(body) > MaxFrameSize {
		return nil, fmt.Errorf("encode %T: body of %d bytes exceeds the maximum frame size of %d bytes", m, len(body), MaxFrameSize)
	}
	return body, nil
}

func checkLimits(m Message) error {
	switch m := m.(type) {
	case *Welcome:
		if len(m.Mechanism) > MaxMessageLen {
			return fmt.Errorf("encode Welcome: mechanism of %d bytes exceeds %d", len(m.Mechanism), MaxMessageLen)
		}
	case *Error:
		if len(m.Message) > MaxMessageLen {
			m.Message = truncateUTF8(m.Message, MaxMessageLen)
		}
	case *BindRequest:
		if len(m.Binds) == 0 || len(m.Binds) > MaxBindsPerRequest {
			return fmt.Errorf("encode BindRequest: %d sockets, want 1 to %d", len(m.Binds), MaxBindsPerRequest)
		}
		for i := range m.Binds {
			if len(m.Binds[i].Address) > maxAddressLen {
				return fmt.Errorf("encode BindRequest: address %d is %d bytes long, the maximum is %d", i, len(m.Binds[i].Address), maxAddressLen)
			}
		}
	case *Grant:
		if m.Count == 0 || m.Count > MaxFDsPerFrame {
			return fmt.Errorf("encode Grant: %d descriptors, want 1 to %d", m.Count, MaxFDsPerFrame)
		}
	}
	return nil
}

func appendString16(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// truncateUTF8 cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
