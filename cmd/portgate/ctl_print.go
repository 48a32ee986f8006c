package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/portgate/portgate/server"
)

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

func printServices(w io.Writer, svcs []server.ServiceStatus) {
	t := newTable(w)
	fmt.Fprintln(t, "NAME\tKIND\tSTATE\tLISTEN\tERROR")
	for _, s := range svcs {
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", s.Config.Name, s.Config.Kind, s.State, strings.Join(s.Config.Listen, ","), s.Error)
	}
	t.Flush()
}

func printService(w io.Writer, s server.ServiceStatus) {
	t := newTable(w)
	fmt.Fprintf(t, "name:\t%s\n", s.Config.Name)
	fmt.Fprintf(t, "kind:\t%s\n", s.Config.Kind)
	fmt.Fprintf(t, "state:\t%s since %s\n", s.State, s.Since.Format(time.RFC3339))
	listen := strings.Join(s.Config.Listen, ", ")
	if listen == "" {
		listen = "(none)"
	}
	fmt.Fprintf(t, "listen:\t%s\n", listen)
	if len(s.Config.Command) > 0 {
		fmt.Fprintf(t, "command:\t%s\n", strings.Join(quoteArgs(s.Config.Command), " "))
	}
	if s.Config.Root != "" {
		fmt.Fprintf(t, "root:\t%s\n", s.Config.Root)
	}
	if s.Config.Backend != "" {
		fmt.Fprintf(t, "backend:\t%s\n", s.Config.Backend)
	}
	if s.Config.DrainTimeout.Duration > 0 {
		fmt.Fprintf(t, "drain timeout:\t%s\n", s.Config.DrainTimeout.Duration)
	}
	if s.Error != "" {
		fmt.Fprintf(t, "last error:\t%s\n", s.Error)
	}
	t.Flush()
	if len(s.Listeners) > 0 {
		fmt.Fprintln(w)
		printListeners(w, []server.ServiceStatus{s})
	}
}

func printStatus(w io.Writer, st server.ServerStatus) {
	t := newTable(w)
	fmt.Fprintf(t, "server pid:\t%d (uid %d), started %s\n", st.PID, st.UID, st.Started.Format(time.RFC3339))
	if st.ConfigFile != "" {
		fmt.Fprintf(t, "config:\t%s\n", st.ConfigFile)
	}
	if st.ServicesFile != "" {
		fmt.Fprintf(t, "services file:\t%s\n", st.ServicesFile)
	}
	fmt.Fprintf(t, "socket:\t%s\n", st.Socket)
	if st.Helper.PID == 0 {
		fmt.Fprintf(t, "helper:\tnot running (it starts on the first bind the kernel rejects)\n")
	} else {
		fmt.Fprintf(t, "helper:\tpid %d, mechanism %s\n", st.Helper.PID, st.Helper.Mechanism)
	}
	t.Flush()
	fmt.Fprintln(w)
	printListeners(w, st.Services)
}

func printListeners(w io.Writer, svcs []server.ServiceStatus) {
	t := newTable(w)
	fmt.Fprintln(t, "SERVICE\tSTATE\tENDPOINT\tADDRESS\tBOUND BY")
	for _, s := range svcs {
		if len(s.Listeners) == 0 {
			fmt.Fprintf(t, "%s\t%s\t-\t-\t-\n", s.Config.Name, s.State)
		}
		for _, l := range s.Listeners {
			fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", s.Config.Name, s.State, l.Endpoint, l.Address, boundBy(l))
		}
	}
	t.Flush()
}

func boundBy(l server.ListenerStatus) string {
	switch {
	case l.Inherited:
		return "inherited"
	case l.FromHelper:
		return "portgate-helper"
	}
	return "the server"
}

// quoteArgs quotes the arguments that a shell would split or expand, so
// that the printed command reads unambiguously.
func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}();&|<>#~") {
			out[i] = strconv.Quote(a)
		}
	}
	return out
}
