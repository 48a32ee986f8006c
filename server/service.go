package server

import (
	"sync"
	"time"
)

// service is one entry of the Manager.
type service struct {
	// op serializes start, stop, update and removal of this service, which
	// may take as long as a drain; mu guards the fields below and is never
	// held across one.
	op sync.Mutex

	mu      sync.Mutex
	config  ServiceConfig
	state   State
	lastErr error
	since   time.Time
	sockets []heldSocket
	runner  Runner
	removed bool
}

// heldSocket is a socket of a service with where it came from.
type heldSocket struct {
	Socket
	inherited bool
}

// ServiceStatus is a snapshot of one service, as Manager.List and the
// Local Manager return it.
type ServiceStatus struct {
	Config    ServiceConfig    `json:"config"`
	State     State            `json:"state"`
	Error     string           `json:"error,omitempty"`
	Since     time.Time        `json:"since"`
	Listeners []ListenerStatus `json:"listeners"`
}

// ListenerStatus is one socket of a running service.
type ListenerStatus struct {
	// Endpoint is the listen URL of the config, such as tcp://:80.
	Endpoint string `json:"endpoint"`
	// Address is the address the kernel reports for the socket.
	Address    string `json:"address"`
	FromHelper bool   `json:"from_helper"`
	Inherited  bool   `json:"inherited"`
}

func (s *service) setState(st State, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = st
	s.lastErr = err
	s.since = time.Now()
}

func (s *service) status() ServiceStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := ServiceStatus{Config: s.config, State: s.state, Since: s.since, Listeners: []ListenerStatus{}}
	if s.lastErr != nil {
		st.Error = s.lastErr.Error()
	}
	for _, sock := range s.sockets {
		st.Listeners = append(st.Listeners, ListenerStatus{
			Endpoint:   sock.Endpoint.String(),
			Address:    sock.LocalAddr().String(),
			FromHelper: sock.FromHelper,
			Inherited:  sock.inherited,
		})
	}
	return st
}
