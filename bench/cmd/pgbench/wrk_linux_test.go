package main

import (
	"testing"
	"time"
)

const wrkSample = `Running 5s test @ http://127.0.0.1:80/index.html
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   710.23us  1.02ms  20.11ms   93.10%
    Req/Sec    24.95k     2.03k   29.31k    71.00%
  Latency Distribution
     50%  425.00us
     75%  702.00us
     90%    1.32ms
     99%    5.71ms
  248311 requests in 5.00s, 65.12MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  49652.10
Transfer/sec:     13.02MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkSample)
	if err != nil {
		t.Fatal(err)
	}
	if r.RequestsPerSec != 49652.10 {
		t.Errorf("RequestsPerSec: got %v, want 49652.10", r.RequestsPerSec)
	}
	if r.Requests != 248311 {
		t.Errorf("Requests: got %d, want 248311", r.Requests)
	}
	if r.P50 != 425*time.Microsecond {
		t.Errorf("P50: got %v, want 425us", r.P50)
	}
	if r.P99 != 5710*time.Microsecond {
		t.Errorf("P99: got %v, want 5.71ms", r.P99)
	}
	if r.Failed != 7 {
		t.Errorf("Failed: got %d, want 7", r.Failed)
	}
	if want := 13.02 * (1 << 20); r.BytesPerSec != want {
		t.Errorf("BytesPerSec: got %v, want %v", r.BytesPerSec, want)
	}
}

func TestParseWrkNoLatency(t *testing.T) {
	if _, err := parseWrk("Requests/sec: 10\n"); err == nil {
		t.Error("parseWrk without a latency distribution: got no error")
	}
}

func TestQuantile(t *testing.T) {
	sorted := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, c := range []struct {
		q    float64
		want float64
	}{{0.5, 5}, {0.99, 10}, {0, 1}, {1, 10}} {
		if got := quantile(sorted, c.q); got != c.want {
			t.Errorf("quantile(%v): got %v, want %v", c.q, got, c.want)
		}
	}
}
