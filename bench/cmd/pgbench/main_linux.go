package main

import (
	"fmt"
	"os"
)

func main() {
	commands := map[string]func([]string) error{
		"grant":     runGrant,
		"scale":     runScale,
		"coldstart": runColdStart,
		"churn":     runChurn,
		"pace":      runPace,
		"report":    runReport,
		// naive-child is the child process of grant -mode naive.
		"naive-child": runNaiveChild,
	}
	if len(os.Args) < 2 || commands[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: pgbench grant|scale|coldstart|churn|pace|report [flags]")
		os.Exit(2)
	}
	if err := commands[os.Args[1]](os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "pgbench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
