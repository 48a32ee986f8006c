package helper

import (
	"fmt"
	"strings"
)

// Mechanism describes how the helper gets the right to bind privileged
// ports, as found at start.
type Mechanism struct {
	// Kind is "capability", "unprivileged-port-start" or "none".
	Kind string
	// Source says where the right comes from, such as "file capability on
	// /usr/libexec/portgate/portgate-helper".
	Source string
	// UnprivilegedPortStart is the lowest port any process may bind on
	// Linux (net.ipv4.ip_unprivileged_port_start), or -1 when unknown.
	UnprivilegedPortStart int
	// Problems explains, when Kind is "none", every reason found why the
	// right is missing, each with the command that fixes it.
	Problems []string
	// Notes are hardening steps that could not be applied.
	Notes []string
}

// CanBind reports whether the helper can bind privileged ports at all.
func (m *Mechanism) CanBind() bool { return m.Kind != "none" }

// String is the one-line summary sent to clients in the Welcome message.
func (m *Mechanism) String() string {
	if m.Kind == "none" {
		return "none"
	}
	return fmt.Sprintf("%s (%s)", m.Kind, m.Source)
}

// Diagnosis is the message for a helper that cannot bind: every problem
// found, each with its fix.
func (m *Mechanism) Diagnosis() string {
	var b strings.Builder
	b.WriteString("portgate-helper holds no right to bind privileged ports")
	for _, p := range m.Problems {
		b.WriteString("; ")
		b.WriteString(p)
	}
	return b.String()
}
