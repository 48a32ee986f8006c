package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/portgate/portgate/internal/peercred"
)

// LocalManager serves the HTTP+JSON admin API on a Unix socket. Every
// request is checked against the peer credentials of its connection.
// Services added through it are written to ServicesFile. Services of the
// operator's config file can be started and stopped through it, but not
// changed or removed, because the server never rewrites that file.
type LocalManager struct {
	Manager *Manager
	Client  *Client
	Log     zerolog.Logger
	Access  Access
	// ConfigPath is the operator's config file, shown in the status.
	ConfigPath string
	// ServicesFile keeps the services added through the Local Manager;
	// empty keeps them in memory only.
	ServicesFile string

	mu      sync.Mutex // guards managed and serializes writes of ServicesFile
	managed map[string]bool
	started time.Time
	srv     *http.Server
	ln      *managerListener
	path    string
}

type credKey struct{}

// SetManaged records which services came from ServicesFile.
func (lm *LocalManager) SetManaged(names []string) {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	lm.managed = map[string]bool{}
	for _, n := range names {
		lm.managed[n] = true
	}
}

// Listen creates the socket at path and serves the API on it until Close.
func (lm *LocalManager) Listen(path string) error {
	mode := os.FileMode(0o600)
	gid := -1
	if len(lm.Access.GIDs) > 0 {
		mode |= 0o060
		gid = lm.Access.SocketGID
	}
	if lm.Access.othersNeeded() {
		mode |= 0o006
	}
	l, err := listenManagerSocket(path, mode, gid)
	if err != nil {
		return err
	}
	lm.started = time.Now()
	lm.path = path
	lm.ln = l
	lm.srv = &http.Server{
		Handler:           lm.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			cred, err := peercred.Of(c.(*net.UnixConn))
			if err != nil {
				lm.Log.Error().Err(err).Msg("Local Manager cannot identify a client")
				return ctx
			}
			return context.WithValue(ctx, credKey{}, cred)
		},
	}
	go func() {
		if err := lm.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			lm.Log.Error().Err(err).Str("socket", path).Msg("Local Manager stopped serving")
		}
	}()
	lm.Log.Info().Str("socket", path).Str("mode", fmt.Sprintf("%04o", mode)).Msg("Local Manager listening")
	return nil
}

// Close stops the API and removes its socket.
func (lm *LocalManager) Close() error {
	if lm.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := lm.srv.Shutdown(ctx)
	// Serve may not have started yet, and then Shutdown closes nothing.
	lm.ln.Close()
	return err
}

// Handler returns the API's routes, each behind the peer check.
func (lm *LocalManager) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", lm.handleStatus)
	mux.HandleFunc("GET /v1/services", lm.handleList)
	mux.HandleFunc("POST /v1/services", lm.handleAdd)
	mux.HandleFunc("GET /v1/services/{name}", lm.handleShow)
	mux.HandleFunc("PUT /v1/services/{name}", lm.handleUpdate)
	mux.HandleFunc("DELETE /v1/services/{name}", lm.handleRemove)
	mux.HandleFunc("POST /v1/services/{name}/start", lm.handleStart)
	mux.HandleFunc("POST /v1/services/{name}/stop", lm.handleStop)
	return lm.checkPeer(mux)
}

func (lm *LocalManager) checkPeer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cred, ok := r.Context().Value(credKey{}).(PeerCred)
		if !ok {
			writeError(w, http.StatusForbidden, errors.New("the server could not read this client's peer credentials"))
			return
		}
		log := lm.Log.With().Uint32("peer_uid", cred.UID).Uint32("peer_gid", cred.GID).Uints32("peer_groups", cred.Groups).Int32("peer_pid", cred.PID).Str("method", r.Method).Str("path", r.URL.Path).Logger()
		if !lm.Access.Allows(cred) {
			log.Warn().Msg("Local Manager request rejected: peer not allowed")
			writeError(w, http.StatusForbidden, fmt.Errorf("uid %d (gid %d, groups %v) may not use the Local Manager: add it to users or groups in the [manager] table of the config", cred.UID, cred.GID, cred.Groups))
			return
		}
		log.Debug().Msg("Local Manager request")
		next.ServeHTTP(w, r)
	})
}
