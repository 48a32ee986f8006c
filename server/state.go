package server

import "fmt"

// State is where a service is in its lifecycle.
type State int

// The states of a service. A service in StateFailed keeps the error that
// put it there; starting it again clears the error.
const (
	StateStopped State = iota
	StateStarting
	StateRunning
	StateStopping
	StateFailed
)

var stateNames = [...]string{"stopped", "starting", "running", "stopping", "failed"}

func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return fmt.Sprintf("state(%d)", int(s))
	}
	return stateNames[s]
}

// MarshalText writes the state's name, as the Local Manager's JSON shows it.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a state name.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("unknown service state %q", b)
}
