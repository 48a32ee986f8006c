package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// churnResult is one run of pgbench churn.
type churnResult struct {
	Adds      int     `json:"adds"`
	Removes   int     `json:"removes"`
	Errors    int     `json:"errors"`
	Seconds   float64 `json:"seconds"`
	AddP50    float64 `json:"add_p50_ns"`
	AddP99    float64 `json:"add_p99_ns"`
	RemoveP50 float64 `json:"remove_p50_ns"`
	// FirstError is the text of the first failed request, if any.
	FirstError string `json:"first_error,omitempty"`
}

// runChurn adds an http service and removes it again through the Local
// Manager's API, at -rate or as fast as the server allows, for -duration
// or -max rounds. Each round takes the next port of -ports-from to -ports-to.
func runChurn(args []string) error {
	fs := flag.NewFlagSet("churn", flag.ExitOnError)
	socket := fs.String("socket", "", "the Local Manager socket")
	duration := fs.Duration("duration", 5*time.Second, "how long to churn")
	maxRounds := fs.Int("max", 100000, "at most this many add and remove rounds")
	rate := fs.Float64("rate", 0, "changes (adds and removes) per second; 0 means as fast as the server replies")
	portFrom := fs.Int("ports-from", 81, "first port of the added services")
	portTo := fs.Int("ports-to", 99, "last port of the added services")
	root := fs.String("root", "", "the root of the added http services")
	out := fs.String("out", "", "file for the JSON result")
	fs.Parse(args)
	if *portTo < *portFrom {
		return fmt.Errorf("-ports-to %d is below -ports-from %d", *portTo, *portFrom)
	}

	client := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", *socket)
		}},
	}
	var r churnResult
	var adds, removes []float64
	fail := func(err error) {
		r.Errors++
		if r.FirstError == "" {
			r.FirstError = err.Error()
		}
	}
	start := time.Now()
	for i := 0; i < *maxRounds && time.Since(start) < *duration; i++ {
		if *rate > 0 {
			// Each round is two changes.
			time.Sleep(time.Until(start.Add(time.Duration(float64(2*i) / *rate * float64(time.Second)))))
		}
		name := fmt.Sprintf("churn-%d", i)
		port := *portFrom + i%(*portTo-*portFrom+1)
		body, _ := json.Marshal(map[string]any{
			"name": name, "kind": "http", "root": *root,
			"listen": []string{fmt.Sprintf("tcp://127.0.0.1:%d", port)},
		})
		t0 := time.Now()
		if err := call(client, http.MethodPost, "/v1/services", body, http.StatusCreated); err != nil {
			fail(fmt.Errorf("add %s: %w", name, err))
			continue
		}
		adds = append(adds, float64(time.Since(t0)))
		r.Adds++
		t0 = time.Now()
		if err := call(client, http.MethodDelete, "/v1/services/"+name, nil, http.StatusOK); err != nil {
			fail(fmt.Errorf("remove %s: %w", name, err))
			continue
		}
		removes = append(removes, float64(time.Since(t0)))
		r.Removes++
	}
	r.Seconds = time.Since(start).Seconds()
	if len(adds) > 0 {
		r.AddP50 = median(adds)
		r.AddP99 = quantile(adds, 0.99)
	}
	if len(removes) > 0 {
		r.RemoveP50 = median(removes)
	}
	data, _ := json.Marshal(r)
	if err := os.WriteFile(*out, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

// call sends one request to the Local Manager and checks its status.
func call(client *http.Client, method, path string, body []byte, want int) error {
	req, err := http.NewRequest(method, "http://portgate"+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, bytes.TrimSpace(text))
	}
	return nil
}
