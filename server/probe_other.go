//go:build !linux

package server

import "github.com/portgate/portgate/protocol"

// probeBind probes nothing: outside Linux a refused net.Listen is no
// dearer than a probe.
func probeBind(protocol.BindSpec) error { return nil }
