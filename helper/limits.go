package helper

import (
	"fmt"
	"sync"
	"time"
)

// Limits bound what one peer, and all peers together, can ask of the
// helper. They are read from the [limits] table of the policy, never from
// the command line, so a caller of the helper cannot loosen them.
type Limits struct {
	// RequestsPerSecond is the sustained rate of requests one connection
	// may send; Burst requests may come at once.
	RequestsPerSecond float64
	Burst             int
	// MaxSocketsPerPeer bounds the sockets granted over one connection.
	MaxSocketsPerPeer int
	// MaxPeers bounds the connections a daemon serves at once.
	MaxPeers int
	// IdleTimeout closes a daemon connection that sends nothing for this long.
	IdleTimeout time.Duration
	// MaxPeersPerUID bounds the connections of one uid, so that one user
	// cannot take every MaxPeers slot.
	MaxPeersPerUID int
	// FrameTimeout closes a connection that starts a frame and does not
	// finish it within this time.
	FrameTimeout time.Duration
}

// DefaultLimits are the limits of a policy without a [limits] table.
var DefaultLimits = Limits{
	RequestsPerSecond: 50,
	Burst:             100,
	MaxSocketsPerPeer: 4096,
	MaxPeers:          64,
	IdleTimeout:       5 * time.Minute,
	MaxPeersPerUID:    16,
	FrameTimeout:      10 * time.Second,
}

// LimitsHelp lists the [limits] keys with their defaults and units, for
// --help output.
func LimitsHelp() string {
	d := DefaultLimits
	return fmt.Sprintf(`  requests_per_second  sustained requests per connection per second (default %g)
  burst                requests a connection may send at once (default %d)
  max_sockets_per_peer sockets granted over one connection (default %d)
  max_peers            connections a daemon serves at once (default %d)
  idle_timeout         close a daemon connection idle this long (default %q)
  max_peers_per_uid    connections one uid may hold at once (default %d)
  frame_timeout        close a connection that leaves a frame unfinished this long (default %q)`,
		d.RequestsPerSecond, d.Burst, d.MaxSocketsPerPeer, d.MaxPeers, d.IdleTimeout.String(), d.MaxPeersPerUID, d.FrameTimeout.String())
}

type limitsFile struct {
	RequestsPerSecond *float64 `toml:"requests_per_second"`
	Burst             *int     `toml:"burst"`
	MaxSocketsPerPeer *int     `toml:"max_sockets_per_peer"`
	MaxPeers          *int     `toml:"max_peers"`
	IdleTimeout       *string  `toml:"idle_timeout"`
	MaxPeersPerUID    *int     `toml:"max_peers_per_uid"`
	FrameTimeout      *string  `toml:"frame_timeout"`
}

func (f *limitsFile) compile() (Limits, error) {
	l := DefaultLimits
	if f == nil {
		return l, nil
	}
	if f.RequestsPerSecond != nil {
		if *f.RequestsPerSecond <= 0 {
			return l, fmt.Errorf("limits: requests_per_second %g must be above 0", *f.RequestsPerSecond)
		}
		l.RequestsPerSecond = *f.RequestsPerSecond
	}
	for _, v := range []struct {
		name string
		in   *int
		out  *int
	}{{"burst", f.Burst, &l.Burst}, {"max_sockets_per_peer", f.MaxSocketsPerPeer, &l.MaxSocketsPerPeer}, {"max_peers", f.MaxPeers, &l.MaxPeers}, {"max_peers_per_uid", f.MaxPeersPerUID, &l.MaxPeersPerUID}} {
		if v.in == nil {
			continue
		}
		if *v.in < 1 {
			return l, fmt.Errorf("limits: %s %d must be at least 1", v.name, *v.in)
		}
		*v.out = *v.in
	}
	for _, v := range []struct {
		name string
		in   *string
		out  *time.Duration
	}{{"idle_timeout", f.IdleTimeout, &l.IdleTimeout}, {"frame_timeout", f.FrameTimeout, &l.FrameTimeout}} {
		if v.in == nil {
			continue
		}
		d, err := time.ParseDuration(*v.in)
		if err != nil || d <= 0 {
			return l, fmt.Errorf("limits: %s %q: want a positive duration such as \"5m\" or \"10s\"", v.name, *v.in)
		}
		*v.out = d
	}
	return l, nil
}

// rateLimiter is a token bucket: it holds up to burst tokens and gains rate
// tokens per second. A request takes one token or is rejected.
type rateLimiter struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
	now    func() time.Time
}

func newRateLimiter(rate float64, burst int) *rateLimiter {
	return &rateLimiter{rate: rate, burst: float64(burst), tokens: float64(burst), now: time.Now}
}

// allow takes a token if one is left.
func (r *rateLimiter) allow() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if !r.last.IsZero() {
		r.tokens = min(r.burst, r.tokens+now.Sub(r.last).Seconds()*r.rate)
	}
	r.last = now
	if r.tokens < 1 {
		return false
	}
	r.tokens--
	return true
}
