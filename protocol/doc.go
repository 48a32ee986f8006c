// Package protocol is the wire format between the portgate server and the
// privileged portgate-helper. It is shared by both sides of the trust
// boundary and does no logging: it returns typed errors and leaves policy,
// logging and privilege to its callers.
//
// # Transport
//
// The two ends talk over a Unix stream socket: a socketpair inherited by the
// helper in child mode, or a path the helper listens on in daemon mode.
// Every message travels as one frame:
//
//	+-----------------+-------------------------------+
//	| length (uint32) | body (length bytes)            |
//	+-----------------+-------------------------------+
//
// The length is big-endian, counts the body only, and is between 1 and
// MaxFrameSize (65536) bytes. A receiver checks it before allocating and
// treats any other value as a protocol error that ends the connection. The
// first body byte is the message type. All integers are big-endian.
//
// Each frame is written with one sendmsg call. A frame that carries file
// descriptors carries them in exactly one SCM_RIGHTS control message of
// that same call, so the descriptors arrive with the frame's first bytes.
// A receiver never reads past the end of the frame it is reading, and the
// descriptors it collects while reading a frame belong to that frame alone.
// Only Grant frames carry descriptors, at most MaxFDsPerFrame of them. A
// receiver closes every descriptor that arrives anywhere else, walks every
// control message (credential messages may come first), and fails the frame
// when the kernel reports MSG_CTRUNC. Received descriptors are
// close-on-exec: Go's net package sets MSG_CMSG_CLOEXEC on systems that
// have it and sets FD_CLOEXEC right after receipt on the others.
//
// # Messages
//
//	Hello       client -> helper   type 1, min version uint16, max version uint16
//	Welcome     helper -> client   type 2, version uint16, mechanism string16
//	BindRequest client -> helper   type 3, request id uint32, count uint16,
//	                               count x BindSpec
//	Grant       helper -> client   type 4, request id uint32, first uint16,
//	                               count uint16, total uint16; count descriptors
//	Error       helper -> client   type 5, request id uint32, code uint16,
//	                               index uint16, message string16
//
// A BindSpec is network uint8, flags uint8, port uint32, backlog uint32,
// address string8. A stringN is an N-bit length followed by that many bytes
// of UTF-8. Networks are 1 tcp, 2 tcp4, 3 tcp6, 4 udp, 5 udp4, 6 udp6.
// Flags are bit 0 SO_REUSEADDR, bit 1 SO_REUSEPORT, bit 2 IPV6_V6ONLY; other
// bits are invalid. The address is an IP literal, with a zone for link-local
// IPv6 ("fe80::1%eth0"), or empty for the wildcard address of the network.
// The port is between 1 and 65535; a backlog of 0 means the system default.
// A request names between 1 and MaxBindsPerRequest sockets.
//
// # Exchange
//
// The client opens with Hello. The helper answers Welcome with the highest
// version both sides speak and the privilege mechanism it holds, or Error
// with CodeVersion when there is none, or CodeNoPrivilege when the helper
// cannot bind privileged ports at all; after an Error to Hello the helper
// closes the connection.
//
// Each BindRequest is answered either by one Error or by Grant frames that
// carry the sockets in request order, first counting from 0, until
// first+count equals total. A request is all or nothing: if any of its
// sockets cannot be bound, the helper closes those it did bind and answers
// Error with the index of the failing socket (0xFFFF when no single socket
// is at fault). A client that receives a malformed or short Grant sequence
// closes every descriptor it received for that request. The helper keeps no
// copy of a socket once its Grant frame is sent. A connection is granted a
// bounded number of sockets in its life. Past that the helper replies with
// CodeConnectionSpent, and a client that needs more opens a new connection.
package protocol
