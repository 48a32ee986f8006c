package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// rssKiB returns the resident set size of process pid (0 for this
// process) in KiB, from the VmRSS line of /proc/PID/status.
func rssKiB(pid int) (int, error) {
	path := "/proc/self/status"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read resident memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmRSS line in %s", path)
}
