// Package logging sets up the zerolog logger that both portgate binaries
// write to standard error: human-readable console output on a terminal,
// one JSON object per line otherwise.
package logging

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// New returns a logger writing to w at the given level ("trace", "debug",
// "info", "warn", "error"). An unknown level is an error.
func New(w *os.File, level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Nop(), fmt.Errorf("unknown log level %q: use trace, debug, info, warn or error", level)
	}
	var out io.Writer = w
	if isatty.IsTerminal(w.Fd()) {
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger(), nil
}
