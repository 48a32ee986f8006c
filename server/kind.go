package server

import (
	"context"
	"sort"
	"strings"

	"github.com/rs/zerolog"
)

// Runner is a running service kind. Start begins serving on the sockets,
// which the Runner then owns, and returns at once; Stop closes the sockets,
// lets open connections finish until ctx ends, then closes them.
type Runner interface {
	Start() error
	Stop(ctx context.Context) error
}

// ServiceInfo is what a kind learns about its service and process.
type ServiceInfo struct {
	Config  ServiceConfig
	Sockets []Socket
	Log     zerolog.Logger
}

var kinds = map[string]func(ServiceInfo) (Runner, error){
	"http": newHTTP,
	"echo": newEcho,
}

func kindNames() string {
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, " or ")
}
