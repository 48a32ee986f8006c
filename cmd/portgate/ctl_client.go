package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
)

// ctlTimeout bounds one request, which may include a drain of the
// server's longest drain timeout.
const ctlTimeout = 5 * time.Minute

// ctlClient sends requests to the Local Manager.
type ctlClient struct {
	socket string
	http   *http.Client
}

func newCtlClient(c *cli.Context) (*ctlClient, error) {
	path, err := socketPath(c)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	return &ctlClient{socket: path, http: &http.Client{Transport: tr, Timeout: ctlTimeout}}, nil
}

// do sends a request with body encoded as JSON (none when nil) and decodes
// a successful reply into out (skipped when nil). It returns the raw reply
// for --json. Failures come back as cli exit errors with ctl's exit codes.
func (cc *ctlClient) do(method, path string, body, out any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, cli.Exit(fmt.Sprintf("encode request: %v", err), exitUsage)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://portgate"+path, rd)
	if err != nil {
		return nil, cli.Exit(err.Error(), exitUsage)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := cc.http.Do(req)
	if errors.Is(err, syscall.EACCES) {
		return nil, cli.Exit(fmt.Sprintf("connect to the Local Manager at %s: permission denied: run portgate ctl as the server's account or root, or allow this user with users or groups in the server's [manager] table", cc.socket), exitDenied)
	}
	if err != nil {
		return nil, cli.Exit(fmt.Sprintf("cannot reach the Local Manager at %s: %v: is portgate serve running, and is this the socket in its [manager] table? (--socket PATH)", cc.socket, unwrapURLError(err)), exitUnreachable)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, cli.Exit(fmt.Sprintf("read reply from %s: %v", cc.socket, err), exitFailed)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(raw, &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("the Local Manager replied %s", resp.Status)
		}
		return raw, cli.Exit(e.Error, exitCodeOf(resp.StatusCode))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return raw, cli.Exit(fmt.Sprintf("invalid reply from the Local Manager: %v", err), exitFailed)
		}
	}
	return raw, nil
}

func exitCodeOf(status int) int {
	switch status {
	case http.StatusNotFound:
		return exitNotFound
	case http.StatusForbidden:
		return exitDenied
	case http.StatusBadRequest:
		return exitUsage
	}
	return exitFailed
}

func unwrapURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}
