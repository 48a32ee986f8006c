// Command pgclient is the test client of the end-to-end tests: it acquires
// sockets through server.Client, the way any Go program would, and prints
// one JSON line per attempt so that the tests can check every outcome.
//
//	pgclient [-helper PATH] [-together] [-fix-after CMD] URL...
//
// Without -together each URL is a separate request on the same Client, so
// a test can see the helper serve a request after denying one.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/portgate/portgate/e2e/pgclient/report"
	"github.com/portgate/portgate/protocol"
	"github.com/portgate/portgate/server"
)

func main() {
	helperPath := flag.String("helper", "", "portgate-helper path")
	together := flag.Bool("together", false, "acquire all URLs in one request")
	pause := flag.String("pause-file", "", "before each request after the first, wait until this file is gone")
	echo := flag.Bool("echo", false, "after acquiring, send a datagram or connection to each socket and report the echo")
	socket := flag.String("helper-socket", "", "portgate-helper daemon socket; empty starts a child helper")
	repeat := flag.Int("repeat", 0, "acquire and close the URLs this many times, printing one summary line")
	flag.Parse()

	c := &server.Client{HelperPath: *helperPath, HelperSocket: *socket, Timeout: 10 * time.Second}
	defer c.Close()
	var batches [][]server.Endpoint
	var all []server.Endpoint
	for _, u := range flag.Args() {
		e, err := server.ParseEndpoint(u)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if *together {
			all = append(all, e)
		} else {
			batches = append(batches, []server.Endpoint{e})
		}
	}
	if *together {
		batches = [][]server.Endpoint{all}
	}
	if *repeat > 0 {
		json.NewEncoder(os.Stdout).Encode(churn(c, batches, *repeat))
		return
	}
	enc := json.NewEncoder(os.Stdout)
	var keep []server.Socket
	for i, b := range batches {
		if i > 0 && *pause != "" {
			waitGone(*pause)
		}
		r := report.Result{}
		for _, e := range b {
			r.Endpoints = append(r.Endpoints, e.String())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		socks, err := c.Acquire(ctx, b)
		cancel()
		if err != nil {
			r.Error = err.Error()
			var perr *protocol.Error
			if errors.As(err, &perr) {
				r.Code = uint16(perr.Code)
			}
		} else {
			r.OK = true
			for _, s := range socks {
				r.Local = append(r.Local, s.LocalAddr().String())
				r.FromHelper = append(r.FromHelper, s.FromHelper)
			}
			if *echo {
				r.Echo = echoAll(socks)
			}
			keep = append(keep, socks...)
		}
		r.HelperPID = c.HelperPID()
		r.OpenFDs = countFDs()
		enc.Encode(r)
	}
	for _, s := range keep {
		s.Close()
	}
}

func waitGone(path string) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func countFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents) - 1 // the directory being read
}

// echoAll sends "ping" through each socket from a fresh client socket and
// returns what came back, to show the socket is really usable.
func echoAll(socks []server.Socket) string {
	out := ""
	for _, s := range socks {
		if s.PacketConn != nil {
			go func() {
				buf := make([]byte, 64)
				s.PacketConn.SetDeadline(time.Now().Add(5 * time.Second))
				n, from, err := s.PacketConn.ReadFrom(buf)
				if err == nil {
					s.PacketConn.WriteTo(buf[:n], from)
				}
			}()
			c, err := net.Dial("udp", s.LocalAddr().String())
			if err != nil {
				return "dial: " + err.Error()
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Write([]byte("ping"))
			buf := make([]byte, 64)
			n, err := c.Read(buf)
			c.Close()
			if err != nil {
				return "read: " + err.Error()
			}
			out += string(buf[:n])
		}
	}
	return out
}

// churn acquires and closes every batch n times over one connection.
func churn(c *server.Client, batches [][]server.Endpoint, n int) report.Churn {
	r := report.Churn{Codes: map[uint16]int{}}
	deadline := time.Now().Add(5 * time.Minute)
	for i := 0; i < n && time.Now().Before(deadline); i++ {
		for _, b := range batches {
			socks, err := c.Acquire(context.Background(), b)
			if err != nil {
				r.Failed++
				r.Error = err.Error()
				var perr *protocol.Error
				if errors.As(err, &perr) {
					r.Codes[uint16(perr.Code)]++
				}
				continue
			}
			r.Granted += len(socks)
			for _, s := range socks {
				s.Close()
			}
		}
	}
	r.OpenFDs = countFDs()
	return r
}
