package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime/pprof"
	"time"

	"github.com/portgate/portgate/server"
)

// runGrant times one listener at a time, opened and closed again:
// net.Listen in this process (mode listen), a naiveGranter child (naive),
// or server.Client.Listen through a child helper (child) or a helper
// daemon (daemon) over one persistent connection. The first grant, which starts or dials the helper, is part of
// the warmup.
func runGrant(args []string) error {
	fs := flag.NewFlagSet("grant", flag.ExitOnError)
	mode := fs.String("mode", "listen", "listen, naive, child or daemon")
	addr := fs.String("addr", "127.0.0.1:80", "address to listen on")
	helperPath := fs.String("helper", "", "portgate-helper path (mode child)")
	socket := fs.String("socket", "", "helper daemon socket (mode daemon)")
	warmup := fs.Int("warmup", 200, "untimed grants before the timed ones")
	count := fs.Int("n", 5000, "timed grants")
	out := fs.String("out", "", "file for the samples, nanoseconds one a line")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed grants to this file")
	fs.Parse(args)

	listen, closeClient, err := grantFunc(*mode, *addr, *helperPath, *socket)
	if err != nil {
		return err
	}
	defer closeClient()
	ctx := context.Background()
	once := func() error {
		ln, err := listen(ctx, *addr)
		if err != nil {
			return err
		}
		return ln.Close()
	}
	for range *warmup {
		if err := once(); err != nil {
			return fmt.Errorf("mode %s, warmup: %w", *mode, err)
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("create CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("start CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	samples := make([]time.Duration, 0, *count)
	for range *count {
		start := time.Now()
		if err := once(); err != nil {
			return fmt.Errorf("mode %s: %w", *mode, err)
		}
		samples = append(samples, time.Since(start))
	}
	return writeSamples(*out, samples)
}

// grantFunc returns the listen function of a mode and a function that
// closes the client behind it.
func grantFunc(mode, addr, helperPath, socket string) (func(context.Context, string) (net.Listener, error), func(), error) {
	switch mode {
	case "listen":
		return func(_ context.Context, addr string) (net.Listener, error) {
			return net.Listen("tcp4", addr)
		}, func() {}, nil
	case "naive":
		g, err := startNaive(addr)
		if err != nil {
			return nil, nil, err
		}
		return g.listen, g.close, nil
	case "child", "daemon":
		c := &server.Client{HelperPath: helperPath}
		if mode == "daemon" {
			c.HelperSocket = socket
		}
		return func(ctx context.Context, addr string) (net.Listener, error) {
			return c.Listen(ctx, "tcp4", addr)
		}, func() { c.Close() }, nil
	}
	return nil, nil, fmt.Errorf("invalid -mode %q: want listen, naive, child or daemon", mode)
}
