// Command bench runs Shoal's benchmarks against a real implementation of the
// same job in the same run, and reports the ratio. Each scenario writes its
// results as JSON (and an SVG bar chart) under bench/results and prints a
// short summary. A failed run writes no result.
//
// Usage (go run ./bench help lists every scenario):
//
//	go run ./bench create [-size 1GiB] [-runs 3] [-out bench/results]
//	go run ./bench pair [-size 1GiB] [-runs 3] [-pairs shoal-shoal,lt-lt,shoal-lt,lt-shoal]
//	                    [-lt-high-performance] [-out bench/results]
//
// Scenario "create" times `shoal create` against mktorrent on one file with
// the same piece length and thread count, after checking that both make a
// torrent with the same info hash.
//
// Scenario "pair" sends one file from one seeder to one leecher over
// loopback for each seeder-leecher combination of Shoal and libtorrent
// (python3-libtorrent), and reports MB/s, CPU seconds per GiB and peak RSS
// of each side, after checking the leecher's file against the source.
//
// Scenario "swarm" (go run ./bench swarm [-n 1,5,10,20,40] [-size 64MiB]
// [-rate 4MiB]) runs one seeder and N leechers, every upload capped, with
// Shoal processes and with libtorrent sessions, and reports the time until
// every leecher has the verified file against the lower bound
// max(F/U, N·F/(U+N·U)), and the copies of the file the seeder uploaded.
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// scenario is one benchmark: its usage line(s) and the function that runs it
// with the arguments after the scenario's name.
type scenario struct {
	usage string
	run   func(args []string) error
}

// scenarios maps a scenario's name to it. Each scenario's file registers
// itself in an init function, so adding one touches no other file.
var scenarios = map[string]scenario{}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	name := os.Args[1]
	switch name {
	case "-h", "-help", "--help", "help":
		usage()
		return
	}
	sc, ok := scenarios[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "bench: unknown scenario %q\n", name)
		usage()
		os.Exit(2)
	}
	if err := sc.run(os.Args[2:]); err != nil {
		fail(err)
	}
}

func usage() {
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(os.Stderr, "usage: go run ./bench SCENARIO [flags]")
	for _, n := range names {
		fmt.Fprintln(os.Stderr, "  "+scenarios[n].usage)
	}
}

// fail prints the reason a benchmark could not produce a result and exits
// non-zero, so scripts never mistake a failed run for a measurement.
func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench: FAILED:", err)
	os.Exit(1)
}

// sizeUnits are the suffixes parseSize accepts; all are powers of 1024.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kib": 1 << 10, "kb": 1 << 10,
	"m": 1 << 20, "mib": 1 << 20, "mb": 1 << 20,
	"g": 1 << 30, "gib": 1 << 30, "gb": 1 << 30,
}

// parseSize reads a byte count like "268435456", "256MiB" or "1G".
func parseSize(s string) (int64, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	unit, ok := sizeUnits[strings.ToLower(s[i:])]
	if i == 0 || !ok {
		return 0, fmt.Errorf("invalid size %q: want a number with an optional K/M/G or KiB/MiB/GiB suffix", s)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n > math.MaxInt64/unit || n == 0 {
		return 0, fmt.Errorf("invalid size %q: must be between 1 byte and 8 EiB", s)
	}
	return n * unit, nil
}

// writeResultJSON writes res as DIR/SCENARIO-<UTC time>.json and returns
// that path without ".json", for the chart and the summary beside it.
func writeResultJSON(dir, scenario string, res any) (base string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	base = filepath.Join(dir, scenario+"-"+time.Now().UTC().Format("2006-01-02T150405Z"))
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return "", err
	}
	return base, os.WriteFile(base+".json", append(data, '\n'), 0o644)
}
