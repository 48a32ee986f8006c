package server

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"os"
	"os/user"
	"strconv"
	"time"
)

type httpRunner struct {
	info ServiceInfo
	srv  *http.Server
}

func newHTTP(info ServiceInfo) (Runner, error) {
	var h http.Handler
	if info.Config.Root == "" {
		h = welcomeHandler(info)
	} else {
		st, err := os.Stat(info.Config.Root)
		if err != nil {
			return nil, fmt.Errorf("root: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("root %s is not a directory", info.Config.Root)
		}
		h = http.FileServer(http.Dir(info.Config.Root))
	}
	for _, s := range info.Sockets {
		if s.Listener == nil {
			return nil, fmt.Errorf("kind http serves TCP only, but %s is UDP", s.Endpoint)
		}
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
	return &httpRunner{info: info, srv: srv}, nil
}

func (r *httpRunner) Start() error {
	for _, s := range r.info.Sockets {
		r.Serve(s)
	}
	return nil
}

// Serve serves HTTP on one more listener. A listener the Manager closes
// ends its loop with net.ErrClosed, which is not an error here.
func (r *httpRunner) Serve(s Socket) error {
	if s.Listener == nil {
		return fmt.Errorf("kind http serves TCP only, but %s is UDP", s.Endpoint)
	}
	go func(l net.Listener) {
		err := r.srv.Serve(l)
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			r.info.Log.Error().Err(err).Str("address", l.Addr().String()).Msg("http serve failed")
		}
	}(s.Listener)
	return nil
}

func (r *httpRunner) Stop(ctx context.Context) error {
	err := r.srv.Shutdown(ctx)
	if err != nil {
		r.srv.Close()
	}
	return err
}

var welcomePage = template.Must(template.New("welcome").Parse(`<!doctype html>
<html><head><title>portgate</title></head>
<body>
<h1>portgate is running</h1>
<p>This server runs as user {{.User}} (uid {{.UID}}) and holds no privilege.</p>
<table>
<tr><th>network</th><th>address</th><th>bound by</th></tr>
{{range .Sockets}}<tr><td>{{.Network}}</td><td>{{.Address}}</td><td>{{.Source}}</td></tr>
{{end}}</table>
</body></html>
`))

type welcomeSocket struct{ Network, Address, Source string }

func welcomeHandler(info ServiceInfo) http.Handler {
	uid := os.Getuid()
	name := strconv.Itoa(uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	data := struct {
		User    string
		UID     int
		Sockets []welcomeSocket
	}{User: name, UID: uid}
	for _, s := range info.Sockets {
		src := "the server itself"
		if s.FromHelper {
			src = "portgate-helper"
		}
		data.Sockets = append(data.Sockets, welcomeSocket{s.Endpoint.Network, s.LocalAddr().String(), src})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/" {
			http.NotFound(w, req)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		welcomePage.Execute(w, data)
	})
}
