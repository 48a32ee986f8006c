//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "pgbench: the benchmarks run on Linux only")
	os.Exit(1)
}
