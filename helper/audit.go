package helper

import (
	"os"
	"strconv"
	"time"

	"github.com/rs/zerolog"
)

// denialBurst is how many denials of one connection are logged one by one
// in each denialWindow; the rest are counted and logged as one event.
const (
	denialBurst  = 10
	denialWindow = time.Minute
)

// denialLimiter rate-limits the denial events one peer can cause, counting
// what it drops so that the log never loses the number.
type denialLimiter struct {
	start      time.Time
	logged     int
	suppressed int
}

// event returns the event to log for one more denial, or nil when this one
// is only counted. When a new window opens, the count of the last one is
// attached to the first event.
func (d *denialLimiter) event(log *zerolog.Logger, now time.Time) *zerolog.Event {
	if now.Sub(d.start) >= denialWindow {
		ev := log.Warn()
		if d.suppressed > 0 {
			ev = ev.Int("suppressed_denials", d.suppressed)
		}
		d.start, d.logged, d.suppressed = now, 1, 0
		return ev
	}
	if d.logged < denialBurst {
		d.logged++
		return log.Warn()
	}
	d.suppressed++
	return nil
}

// flush logs the count of denials not yet logged, when the connection ends.
func (d *denialLimiter) flush(log *zerolog.Logger) {
	if d.suppressed > 0 {
		log.Warn().Int("suppressed_denials", d.suppressed).Msg("denials not logged one by one")
		d.suppressed = 0
	}
}

// PeerExecutable returns the path of the peer's executable where the
// kernel shows it to this process, or "". Look it up before the helper
// confines itself: after Landlock and the seccomp filter apply, the
// lookup fails.
func PeerExecutable(pid int32) string {
	if pid <= 0 {
		return ""
	}
	exe, err := os.Readlink("/proc/" + strconv.Itoa(int(pid)) + "/exe")
	if err != nil {
		return ""
	}
	return exe
}
