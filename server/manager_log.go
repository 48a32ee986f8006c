package server

import "github.com/rs/zerolog"

// logListener adds the fields that describe one socket to ev.
func logListener(ev *zerolog.Event, h heldSocket) *zerolog.Event {
	return ev.Str("endpoint", h.Endpoint.String()).
		Str("address", h.LocalAddr().String()).
		Bool("from_helper", h.FromHelper).
		Bool("inherited", h.inherited)
}
