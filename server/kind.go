package server

import (
	"context"
	"sort"
	"strings"

	"github.com/rs/zerolog"
)

// Runner is a running service kind. Start begins serving on the sockets of
// its ServiceInfo and returns at once. Serve adds one more socket while the
// service runs. From either call on, the Runner owns the sockets. The
// Manager may still close one to drop it from a running service: the
// Runner must then end that socket's accept loop quietly. Stop closes
// every socket, lets open connections finish until ctx ends, then closes
// those that remain and returns ctx's error.
type Runner interface {
	Start() error
	Serve(s Socket) error
	Stop(ctx context.Context) error
}

// ServiceInfo is what a kind learns about its service and process.
type ServiceInfo struct {
	Config  ServiceConfig
	Sockets []Socket
	Log     zerolog.Logger
}

var kinds = map[string]func(ServiceInfo) (Runner, error){
	"http":  newHTTP,
	"echo":  newEcho,
	"proxy": newProxy,
	"exec":  newExec,
}

func kindNames() string {
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	last := len(names) - 1
	if last == 0 {
		return names[0]
	}
	return strings.Join(names[:last], ", ") + " or " + names[last]
}
