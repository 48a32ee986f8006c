package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeWrk(t *testing.T, dir, name string, rate string) {
	t.Helper()
	text := strings.Replace(wrkSample, "49652.10", rate, 1)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPairedRatiosStopsAtMissingRound(t *testing.T) {
	dir := t.TempDir()
	section := filepath.Join(dir, "raw", "datapath")
	if err := os.MkdirAll(section, 0o755); err != nil {
		t.Fatal(err)
	}
	writeWrk(t, section, "helper.pinned.1.txt", "90")
	writeWrk(t, section, "direct.pinned.1.txt", "100")
	writeWrk(t, section, "helper.pinned.2.txt", "110")
	writeWrk(t, section, "direct.pinned.2.txt", "100")
	writeWrk(t, section, "helper.pinned.3.txt", "100")
	r := &report{dir: dir}
	got, err := r.pairedRatios("datapath", "helper", "direct", "pinned")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("rounds: got %d, want 2 (round 3 has no direct run)", len(got))
	}
	if got[0] != 0.9 || got[1] != 1.1 {
		t.Errorf("ratios: got %v, want [0.9 1.1]", got)
	}
}

func TestPairedRatiosNoRounds(t *testing.T) {
	r := &report{dir: t.TempDir()}
	if _, err := r.pairedRatios("datapath", "helper", "direct", "pinned"); err == nil {
		t.Error("pairedRatios with no files: got no error")
	}
}
