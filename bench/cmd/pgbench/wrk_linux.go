package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// wrkResult is the summary that one wrk --latency run printed.
type wrkResult struct {
	RequestsPerSec float64
	BytesPerSec    float64
	P50, P99       time.Duration
	Requests       int
	// Failed counts socket errors (connect, read, write, timeout) and
	// responses other than 2xx or 3xx.
	Failed int
}

var (
	wrkRate      = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	wrkTransfer  = regexp.MustCompile(`(?m)^Transfer/sec:\s+([0-9.]+)([KMG]?B)`)
	wrkTotal     = regexp.MustCompile(`(?m)^\s*(\d+) requests in`)
	wrkPercent   = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	wrkSocketErr = regexp.MustCompile(`(?m)^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx    = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses: (\d+)`)
)

// parseWrk reads the output of wrk --latency.
func parseWrk(text string) (wrkResult, error) {
	var r wrkResult
	m := wrkRate.FindStringSubmatch(text)
	if m == nil {
		return r, fmt.Errorf("no Requests/sec line in wrk output")
	}
	r.RequestsPerSec, _ = strconv.ParseFloat(m[1], 64)
	if m := wrkTotal.FindStringSubmatch(text); m != nil {
		r.Requests, _ = strconv.Atoi(m[1])
	}
	if m := wrkTransfer.FindStringSubmatch(text); m != nil {
		v, _ := strconv.ParseFloat(m[1], 64)
		scale := map[string]float64{"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}[m[2]]
		r.BytesPerSec = v * scale
	}
	for _, m := range wrkPercent.FindAllStringSubmatch(text, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		unit := map[string]float64{"us": 1e3, "ms": 1e6, "s": 1e9}[m[3]]
		d := time.Duration(v * unit)
		if m[1] == "50" {
			r.P50 = d
		} else {
			r.P99 = d
		}
	}
	if r.P99 == 0 {
		return r, fmt.Errorf("no 99%% latency line in wrk output: run wrk with --latency")
	}
	if m := wrkSocketErr.FindStringSubmatch(text); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.Atoi(s)
			r.Failed += n
		}
	}
	if m := wrkNon2xx.FindStringSubmatch(text); m != nil {
		n, _ := strconv.Atoi(m[1])
		r.Failed += n
	}
	if strings.TrimSpace(text) == "" {
		return r, fmt.Errorf("empty wrk output")
	}
	return r, nil
}
