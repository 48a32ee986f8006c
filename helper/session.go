package helper

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/portgate/portgate/protocol"
)

// HandshakeTimeout bounds the wait for a client's Hello.
const HandshakeTimeout = 10 * time.Second

// Session serves one client connection.
type Session struct {
	Conn      *protocol.Conn
	Peer      Peer
	Policy    *Policy
	Mechanism *Mechanism
	Log       zerolog.Logger
	// CurrentPolicy, when set, is called before each request, so that a
	// daemon's reloaded policy applies to connections already open.
	CurrentPolicy func() *Policy
	// IdleTimeout, when positive, ends the session after that long without
	// a request.
	IdleTimeout time.Duration
	// PeerExe is the peer's executable for the audit log, when known;
	// empty means Serve looks it up itself.
	PeerExe string

	limiter *rateLimiter
	granted int
	bad     int
	denials denialLimiter
}

// Serve runs the handshake and then replies to bind requests until the
// client hangs up. Malformed requests get an Error reply and the session goes on;
// only a broken frame or a failed write ends it. Serve does not close Conn.
func (s *Session) Serve() error {
	ctx := s.Log.With().Uint32("peer_uid", s.Peer.UID).Uint32("peer_gid", s.Peer.GID).Int32("peer_pid", s.Peer.PID)
	if s.PeerExe == "" {
		s.PeerExe = PeerExecutable(s.Peer.PID)
	}
	if len(s.Peer.Groups) > 0 {
		ctx = ctx.Uints32("peer_groups", s.Peer.Groups)
	}
	if s.PeerExe != "" {
		ctx = ctx.Str("peer_exe", s.PeerExe)
	}
	s.Log = ctx.Logger()
	defer s.denials.flush(&s.Log)
	if err := s.handshake(); err != nil {
		return err
	}
	limits := s.limits()
	s.limiter = newRateLimiter(limits.RequestsPerSecond, limits.Burst)
	for {
		if s.IdleTimeout > 0 {
			s.Conn.SetDeadline(time.Now().Add(s.IdleTimeout))
		}
		m, fds, err := s.Conn.Read()
		if err != nil && s.IdleTimeout > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			s.Log.Info().Dur("idle_timeout", s.IdleTimeout).Msg("closed idle client")
			return nil
		}
		if errors.Is(err, protocol.ErrClosed) {
			s.Log.Debug().Msg("client closed the connection")
			return nil
		}
		if errors.Is(err, protocol.ErrFrame) || err != nil && !errors.Is(err, protocol.ErrMalformed) {
			s.Log.Warn().Err(err).Msg("dropped client: broken frame")
			s.reply(&protocol.Error{Code: protocol.CodeInvalid, Index: protocol.NoIndex, Message: err.Error()})
			return fmt.Errorf("read request: %w", err)
		}
		if err != nil {
			if s.badMessage() {
				return errors.New("too many bad messages")
			}
			if ev := s.denials.event(&s.Log, time.Now()); ev != nil {
				ev.Err(err).Msg("malformed request")
			}
			if werr := s.reply(&protocol.Error{Code: protocol.CodeInvalid, Index: protocol.NoIndex, Message: err.Error()}); werr != nil {
				return werr
			}
			continue
		}
		if len(fds) > 0 {
			protocol.CloseAll(fds)
			if s.badMessage() {
				return errors.New("too many bad messages")
			}
			if ev := s.denials.event(&s.Log, time.Now()); ev != nil {
				ev.Int("descriptors", len(fds)).Msg("closed descriptors sent by the client")
			}
			if werr := s.reply(&protocol.Error{ID: requestID(m), Code: protocol.CodeInvalid, Index: protocol.NoIndex,
				Message: fmt.Sprintf("the helper accepts no descriptors: closed the %d sent with this request", len(fds))}); werr != nil {
				return werr
			}
			continue
		}
		if err := s.handle(m); err != nil {
			return err
		}
	}
}

// maxBadMessages is how many malformed or unexpected messages one
// connection may send before the helper hangs up on it.
const maxBadMessages = 100

// badMessage counts one bad message and reports whether the connection
// has now sent too many; it then logs the drop.
func (s *Session) badMessage() bool {
	s.bad++
	if s.bad <= maxBadMessages {
		return false
	}
	s.Log.Warn().Int("bad_messages", s.bad).Msg("dropped client: too many bad messages")
	return true
}

// limits returns the policy's limits, with defaults for a Policy built
// without them.
func (s *Session) limits() Limits {
	l := s.Policy.Limits
	if l.RequestsPerSecond <= 0 || l.Burst < 1 || l.MaxSocketsPerPeer < 1 {
		return DefaultLimits
	}
	return l
}

func requestID(m protocol.Message) uint32 {
	if r, ok := m.(*protocol.BindRequest); ok {
		return r.ID
	}
	return 0
}

func (s *Session) reply(m protocol.Message) error {
	if err := s.Conn.Write(m, nil); err != nil {
		return fmt.Errorf("send reply: %w", err)
	}
	return nil
}

func (s *Session) handshake() error {
	s.Conn.SetDeadline(time.Now().Add(HandshakeTimeout))
	defer s.Conn.SetDeadline(time.Time{})
	m, fds, err := s.Conn.Read()
	if err != nil {
		if !errors.Is(err, protocol.ErrClosed) {
			s.reply(&protocol.Error{Code: protocol.CodeInvalid, Index: protocol.NoIndex, Message: "expected Hello: " + err.Error()})
		}
		return fmt.Errorf("read Hello: %w", err)
	}
	protocol.CloseAll(fds)
	h, ok := m.(*protocol.Hello)
	if !ok || len(fds) > 0 {
		s.reply(&protocol.Error{Code: protocol.CodeInvalid, Index: protocol.NoIndex, Message: "the first message must be Hello, without descriptors"})
		return fmt.Errorf("handshake: first message is type %d, want Hello", m.Type())
	}
	if h.MaxVersion < protocol.MinVersion || h.MinVersion > protocol.Version || h.MinVersion > h.MaxVersion {
		msg := fmt.Sprintf("client speaks versions %d to %d, this helper speaks %d to %d: install matching portgate and portgate-helper versions",
			h.MinVersion, h.MaxVersion, protocol.MinVersion, protocol.Version)
		s.reply(&protocol.Error{Code: protocol.CodeVersion, Index: protocol.NoIndex, Message: msg})
		return fmt.Errorf("handshake: %s", msg)
	}
	if !s.Mechanism.CanBind() {
		s.reply(&protocol.Error{Code: protocol.CodeNoPrivilege, Index: protocol.NoIndex, Message: s.Mechanism.Diagnosis()})
		return errors.New("handshake: no privilege to offer")
	}
	version := min(h.MaxVersion, protocol.Version)
	s.Log.Debug().Uint16("version", version).Msg("client connected")
	return s.reply(&protocol.Welcome{Version: version, Mechanism: s.Mechanism.String()})
}

func (s *Session) handle(m protocol.Message) error {
	r, ok := m.(*protocol.BindRequest)
	if !ok {
		if s.badMessage() {
			return errors.New("too many bad messages")
		}
		if ev := s.denials.event(&s.Log, time.Now()); ev != nil {
			ev.Uint8("type", uint8(m.Type())).Msg("unexpected message")
		}
		return s.reply(&protocol.Error{Code: protocol.CodeInvalid, Index: protocol.NoIndex,
			Message: fmt.Sprintf("unexpected message type %d: the helper answers only BindRequest after the handshake", m.Type())})
	}
	if s.CurrentPolicy != nil {
		s.Policy = s.CurrentPolicy()
	}
	if !s.limiter.allow() {
		l := s.limits()
		ev := s.denials.event(&s.Log, time.Now())
		if ev != nil {
			ev.Float64("requests_per_second", l.RequestsPerSecond).Msg("request rate limit reached")
		}
		return s.reply(&protocol.Error{ID: r.ID, Code: protocol.CodeLimit, Index: protocol.NoIndex,
			Message: fmt.Sprintf("more than %g requests per second (burst %d): slow down, or raise requests_per_second in [limits] of %s", l.RequestsPerSecond, l.Burst, s.policyPath())})
	}
	if max := s.limits().MaxSocketsPerPeer; len(r.Binds) > max {
		s.Log.Warn().Int("requested", len(r.Binds)).Int("max_sockets_per_peer", max).Msg("socket limit reached")
		return s.reply(&protocol.Error{ID: r.ID, Code: protocol.CodeLimit, Index: protocol.NoIndex,
			Message: fmt.Sprintf("a request for %d sockets is above max_sockets_per_peer %d in [limits] of %s: raise the limit", len(r.Binds), max, s.policyPath())})
	}
	if max := s.limits().MaxSocketsPerPeer; s.granted+len(r.Binds) > max {
		s.Log.Warn().Int("granted", s.granted).Int("requested", len(r.Binds)).Int("max_sockets_per_peer", max).Msg("socket limit reached")
		return s.reply(&protocol.Error{ID: r.ID, Code: protocol.CodeConnectionSpent, Index: protocol.NoIndex,
			Message: fmt.Sprintf("this connection was granted %d sockets and asks for %d more, above max_sockets_per_peer %d in [limits] of %s: open a new connection, or raise the limit", s.granted, len(r.Binds), max, s.policyPath())})
	}
	fds, e := s.bindAll(r)
	if e != nil {
		return s.reply(e)
	}
	s.granted += len(fds)
	return s.send(r.ID, fds)
}

// bindAll checks and binds every socket of r, or none: on the first
// failure it closes what it bound and returns the Error to send.
func (s *Session) bindAll(r *protocol.BindRequest) ([]int, *protocol.Error) {
	targets := make([]target, len(r.Binds))
	for i, spec := range r.Binds {
		t, err := resolve(spec)
		if err != nil {
			s.Log.Warn().Err(err).Int("index", i).Msg("invalid bind request")
			return nil, &protocol.Error{ID: r.ID, Code: protocol.CodeInvalid, Index: uint16(i), Message: fmt.Sprintf("socket %d (%s): %v", i, spec.String(), err)}
		}
		rule := s.Policy.Allow(s.Peer, t.spec.Network, t.addr, t.port)
		if rule == 0 {
			if ev := s.denials.event(&s.Log, time.Now()); ev != nil {
				ev.Str("network", t.spec.Network.String()).Str("address", t.addr.String()).Uint16("port", t.port).Msg("denied")
			}
			msg := fmt.Sprintf("uid %d may not bind %s: no rule of the helper policy %s allows it", s.Peer.UID, t.String(), s.policyPath())
			if s.Policy.Missing {
				msg = fmt.Sprintf("uid %d may not bind %s: the helper policy %s does not exist, so nothing is allowed; as root, write one such as:\n%s", s.Peer.UID, t.String(), s.policyPath(), PolicyExample)
			}
			return nil, &protocol.Error{ID: r.ID, Code: protocol.CodeDenied, Index: uint16(i), Message: msg}
		}
		targets[i] = t
	}
	fds := make([]int, 0, len(targets))
	for i := range targets {
		fd, err := bind(&targets[i])
		if err != nil {
			protocol.CloseAll(fds)
			code := protocol.CodeBindFailed
			var be *bindError
			if errors.As(err, &be) {
				code = be.code
			}
			msg := fmt.Sprintf("socket %d: %v", i, err)
			if code == protocol.CodeNoPrivilege {
				msg += ": " + s.Mechanism.Diagnosis()
			}
			s.Log.Error().Err(err).Str("address", targets[i].String()).Msg("bind failed")
			return nil, &protocol.Error{ID: r.ID, Code: code, Index: uint16(i), Message: msg}
		}
		fds = append(fds, fd)
	}
	for i := range targets {
		s.Log.Info().Str("network", targets[i].spec.Network.String()).Str("address", targets[i].addr.String()).
			Uint16("port", targets[i].port).Int("rule", s.Policy.Allow(s.Peer, targets[i].spec.Network, targets[i].addr, targets[i].port)).Msg("granted")
	}
	return fds, nil
}

func (s *Session) policyPath() string {
	if s.Policy.Path == "" {
		return PolicyPath
	}
	return s.Policy.Path
}

// send passes fds to the client in Grant frames of at most
// protocol.MaxFDsPerFrame, closing each batch once it is sent, so the
// helper keeps no copy. On a failed write it closes the rest too.
// TODO: until that close, a few microseconds after sendmsg, another connection asking for a port the client already released gets EADDRINUSE.
func (s *Session) send(id uint32, fds []int) error {
	total := len(fds)
	for first := 0; first < total; first += protocol.MaxFDsPerFrame {
		n := min(protocol.MaxFDsPerFrame, total-first)
		batch := fds[first : first+n]
		err := s.Conn.Write(&protocol.Grant{ID: id, First: uint16(first), Count: uint16(n), Total: uint16(total)}, batch)
		for _, fd := range batch {
			unix.Close(fd)
		}
		if err != nil {
			protocol.CloseAll(fds[first+n:])
			return fmt.Errorf("send granted sockets: %w", err)
		}
	}
	return nil
}
