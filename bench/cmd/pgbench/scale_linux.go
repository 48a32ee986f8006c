package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/portgate/portgate/server"
)

// scaleResult is one run of pgbench scale.
type scaleResult struct {
	Mode    string  `json:"mode"`
	N       int     `json:"n"`
	Seconds float64 `json:"seconds"`
	// RSSBeforeKiB and RSSAfterKiB are this process's resident memory
	// before the first grant and with every listener open.
	RSSBeforeKiB int `json:"rss_before_kib"`
	RSSAfterKiB  int `json:"rss_after_kib"`
	// HelperRSSKiB is the child helper's resident memory with every
	// listener granted; 0 in mode direct.
	HelperRSSKiB int `json:"helper_rss_kib"`
}

// maxPerRequest is the protocol's limit of sockets in one BindRequest.
const maxPerRequest = 1024

// runScale opens n TCP listeners on consecutive ports of 127.0.0.1 with
// server.Client.Acquire, up to maxPerRequest at a time, and reports the
// time and memory it took. In mode helper the ports must be privileged in
// this network namespace (see net.ipv4.ip_unprivileged_port_start), so
// that the helper binds every one and this process adopts it.
func runScale(args []string) error {
	fs := flag.NewFlagSet("scale", flag.ExitOnError)
	mode := fs.String("mode", "helper", "helper or direct")
	n := fs.Int("n", 1000, "listeners to open")
	first := fs.Int("first", 10000, "first port")
	helperPath := fs.String("helper", "", "portgate-helper path")
	out := fs.String("out", "", "file for the JSON result")
	fs.Parse(args)
	if *mode != "helper" && *mode != "direct" {
		return fmt.Errorf("invalid -mode %q: want helper or direct", *mode)
	}
	if *first+*n > 65536 {
		return fmt.Errorf("ports %d to %d: past 65535", *first, *first+*n-1)
	}

	c := &server.Client{HelperPath: *helperPath, Timeout: time.Minute}
	defer c.Close()
	runtime.GC()
	before, err := rssKiB(0)
	if err != nil {
		return err
	}
	var socks []server.Socket
	start := time.Now()
	for lo := 0; lo < *n; lo += maxPerRequest {
		var batch []server.Endpoint
		for i := lo; i < min(lo+maxPerRequest, *n); i++ {
			batch = append(batch, server.Endpoint{Network: "tcp4", Address: fmt.Sprintf("127.0.0.1:%d", *first+i)})
		}
		got, err := c.Acquire(context.Background(), batch)
		if err != nil {
			return fmt.Errorf("mode %s, listener %d of %d: %w", *mode, lo+1, *n, err)
		}
		if *mode == "helper" && !got[0].FromHelper {
			return fmt.Errorf("mode helper: %s was bound directly: make the ports privileged", batch[0])
		}
		socks = append(socks, got...)
	}
	elapsed := time.Since(start)
	r := scaleResult{Mode: *mode, N: *n, Seconds: elapsed.Seconds(), RSSBeforeKiB: before}
	if r.RSSAfterKiB, err = rssKiB(0); err != nil {
		return err
	}
	if pid := c.HelperPID(); pid != 0 {
		if r.HelperRSSKiB, err = rssKiB(pid); err != nil {
			return err
		}
	}
	for _, s := range socks {
		s.Close()
	}
	data, _ := json.Marshal(r)
	if err := os.WriteFile(*out, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}
