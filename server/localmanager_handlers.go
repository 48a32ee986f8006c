package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// maxRequestBody bounds a request body of the Local Manager.
const maxRequestBody = 1 << 20

// errNotManaged is returned for changes to a service of the operator's
// config file.
var errNotManaged = errors.New("service is defined in the config file")

// ServerStatus is the reply of GET /v1/status.
type ServerStatus struct {
	PID          int             `json:"pid"`
	UID          int             `json:"uid"`
	Started      time.Time       `json:"started"`
	ConfigFile   string          `json:"config_file,omitempty"`
	ServicesFile string          `json:"services_file,omitempty"`
	Socket       string          `json:"socket"`
	Helper       HelperStatus    `json:"helper"`
	Services     []ServiceStatus `json:"services"`
}

// HelperStatus describes the connection to portgate-helper.
type HelperStatus struct {
	// PID is 0 while no helper runs: it starts on the first bind the
	// kernel rejects.
	PID       int    `json:"pid"`
	Mechanism string `json:"mechanism,omitempty"`
}

// removeReply is the reply of DELETE /v1/services/{name}. Warning is set
// when open connections had to be closed at the drain deadline.
type removeReply struct {
	Removed string `json:"removed"`
	Warning string `json:"warning,omitempty"`
}

// errorReply is the body of every failed request.
type errorReply struct {
	Error string `json:"error"`
}

func (lm *LocalManager) handleStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, ServerStatus{
		PID:          os.Getpid(),
		UID:          os.Getuid(),
		Started:      lm.started,
		ConfigFile:   lm.ConfigPath,
		ServicesFile: lm.ServicesFile,
		Socket:       lm.path,
		Helper:       HelperStatus{PID: lm.Client.HelperPID(), Mechanism: lm.Client.Mechanism()},
		Services:     lm.Manager.List(),
	})
}

func (lm *LocalManager) handleList(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, lm.Manager.List())
}

func (lm *LocalManager) handleShow(w http.ResponseWriter, r *http.Request) {
	st, err := lm.Manager.Get(r.PathValue("name"))
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (lm *LocalManager) handleAdd(w http.ResponseWriter, r *http.Request) {
	sc, err := decodeService(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if err := lm.Manager.Add(r.Context(), sc); err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	if err := lm.setManaged(sc.Name, true); err != nil {
		lm.setManaged(sc.Name, false)
		lm.Manager.Remove(sc.Name)
		writeError(w, http.StatusInternalServerError, fmt.Errorf("service %q was not added: %w", sc.Name, err))
		return
	}
	lm.reply(w, sc.Name, http.StatusCreated)
}

func (lm *LocalManager) handleUpdate(w http.ResponseWriter, r *http.Request) {
	sc, err := decodeService(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if sc.Name != r.PathValue("name") {
		writeError(w, http.StatusBadRequest, fmt.Errorf("the body names service %q, the path %q: renaming is not supported, add and remove instead", sc.Name, r.PathValue("name")))
		return
	}
	if err := lm.checkManaged(sc.Name); err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	old, _ := lm.Manager.Get(sc.Name)
	if err := lm.Manager.Update(r.Context(), sc); err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	if err := lm.setManaged(sc.Name, true); err != nil {
		lm.Manager.Update(r.Context(), old.Config)
		writeError(w, http.StatusInternalServerError, fmt.Errorf("service %q was not changed: %w", sc.Name, err))
		return
	}
	lm.reply(w, sc.Name, http.StatusOK)
}

func (lm *LocalManager) handleRemove(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := lm.checkManaged(name); err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	err := lm.Manager.Remove(name)
	if errors.Is(err, ErrServiceNotFound) {
		writeError(w, statusOf(err), err)
		return
	}
	// A drain that ran out of time still removed the service, so that
	// error becomes a warning.
	if perr := lm.setManaged(name, false); perr != nil {
		writeError(w, http.StatusInternalServerError, fmt.Errorf("service %q was removed, but only until the server restarts: %w", name, perr))
		return
	}
	reply := removeReply{Removed: name}
	if err != nil {
		reply.Warning = err.Error()
	}
	writeJSON(w, http.StatusOK, reply)
}

func (lm *LocalManager) handleStart(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := lm.Manager.Start(r.Context(), name); err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	lm.reply(w, name, http.StatusOK)
}

func (lm *LocalManager) handleStop(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := lm.Manager.Stop(name); err != nil && errors.Is(err, ErrServiceNotFound) {
		writeError(w, statusOf(err), err)
		return
	}
	lm.reply(w, name, http.StatusOK)
}

// checkManaged rejects changes to services of the operator's config file.
func (lm *LocalManager) checkManaged(name string) error {
	if _, err := lm.Manager.Get(name); err != nil {
		return err
	}
	lm.mu.Lock()
	managed := lm.managed[name]
	lm.mu.Unlock()
	if !managed {
		return fmt.Errorf("service %q: %w %s: change it there and reload the server with SIGHUP", name, errNotManaged, lm.ConfigPath)
	}
	return nil
}

// setManaged records whether a service belongs in ServicesFile and writes
// the file. Each write reads the Manager's configs at that moment, so
// concurrent changes end with a file that holds all of them.
func (lm *LocalManager) setManaged(name string, managed bool) error {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	if lm.managed == nil {
		lm.managed = map[string]bool{}
	}
	if managed {
		lm.managed[name] = true
	} else {
		delete(lm.managed, name)
	}
	return lm.persist()
}

// persist writes the services added through the Local Manager to
// ServicesFile. The caller holds lm.mu.
func (lm *LocalManager) persist() error {
	if lm.ServicesFile == "" {
		return nil
	}
	var svcs []ServiceConfig
	for _, sc := range lm.Manager.Configs() {
		if lm.managed[sc.Name] {
			svcs = append(svcs, sc)
		}
	}
	if err := WriteServicesFile(lm.ServicesFile, svcs); err != nil {
		lm.Log.Error().Err(err).Str("services_file", lm.ServicesFile).Msg("write services file failed")
		return err
	}
	return nil
}

func (lm *LocalManager) reply(w http.ResponseWriter, name string, code int) {
	st, err := lm.Manager.Get(name)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, code, st)
}

func decodeService(body io.Reader) (ServiceConfig, error) {
	var sc ServiceConfig
	dec := json.NewDecoder(io.LimitReader(body, maxRequestBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sc); err != nil {
		return sc, fmt.Errorf("invalid service in the request body: %w", err)
	}
	if sc.Name == "" {
		return sc, errors.New("the service has no name")
	}
	if err := sc.check(); err != nil {
		return sc, fmt.Errorf("service %q: %w", sc.Name, err)
	}
	return sc, nil
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrServiceNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrServiceExists), errors.Is(err, errNotManaged):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, errorReply{Error: err.Error()})
}
