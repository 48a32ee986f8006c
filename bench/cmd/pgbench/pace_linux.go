package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// paceResult is one run of pgbench pace.
type paceResult struct {
	Requests int     `json:"requests"`
	Failed   int     `json:"failed"`
	Seconds  float64 `json:"seconds"`
	P50      float64 `json:"p50_ns"`
	P99      float64 `json:"p99_ns"`
	// FirstError is the text of the first failed request, if any.
	FirstError string `json:"first_error,omitempty"`
}

// runPace sends GET requests at a fixed rate over keep-alive connections
// and reports their latency. wrk sends the next request as soon as a
// response arrives, which keeps the server saturated, but pace leaves the
// server idle between requests. Each latency counts from the moment the
// request was handed to the connections, so a request that waits for a
// free one counts its wait too. That moment is not the time the request
// was due, because a Go timer of less than a millisecond may fire up to a
// millisecond late, which would add the load generator's own delay.
func runPace(args []string) error {
	fs := flag.NewFlagSet("pace", flag.ExitOnError)
	url := fs.String("url", "http://127.0.0.1:80/index.html", "URL to GET")
	rate := fs.Float64("rate", 2000, "requests per second")
	conns := fs.Int("conns", 16, "connections, one request at a time each")
	duration := fs.Duration("duration", 3*time.Second, "how long to send")
	out := fs.String("out", "", "file for the JSON result")
	fs.Parse(args)
	if *rate <= 0 || *conns < 1 {
		return fmt.Errorf("invalid -rate %g or -conns %d: want both above 0", *rate, *conns)
	}

	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns, DisableCompression: true},
	}
	total := int(*rate * duration.Seconds())
	due := make(chan time.Time, total)
	latencies := make([]float64, total)
	var mu sync.Mutex
	var r paceResult
	var wg sync.WaitGroup
	next := 0
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range due {
				err := get(client, *url)
				d := float64(time.Since(t))
				mu.Lock()
				latencies[next] = d
				next++
				if err != nil {
					r.Failed++
					if r.FirstError == "" {
						r.FirstError = err.Error()
					}
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for i := range total {
		t := start.Add(time.Duration(float64(i) / *rate * float64(time.Second)))
		time.Sleep(time.Until(t))
		due <- time.Now()
	}
	close(due)
	wg.Wait()
	r.Seconds = time.Since(start).Seconds()
	r.Requests = total
	r.P50 = median(latencies)
	r.P99 = quantile(latencies, 0.99)
	data, _ := json.Marshal(r)
	if err := os.WriteFile(*out, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

// get sends one request and reads the whole response.
func get(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("GET %s: read body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d, want 200", url, resp.StatusCode)
	}
	return nil
}
