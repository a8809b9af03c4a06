// Command bench runs Shoal's benchmarks against a real implementation of the
// same job in the same run, and reports the ratio. Each scenario writes its
// results as JSON (and an SVG bar chart) under bench/results and prints a
// short summary. A failed run writes no result.
//
// Usage:
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
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	switch os.Args[1] {
	case "create":
		fs := flag.NewFlagSet("create", flag.ExitOnError)
		size := fs.String("size", "1GiB", "size of the test file (e.g. 256MiB, 1GiB)")
		runs := fs.Int("runs", 3, "timed runs of each tool; the median is reported")
		out := fs.String("out", "bench/results", "directory for the JSON and SVG results")
		_ = fs.Parse(os.Args[2:])
		n, err := parseSize(*size)
		if err != nil {
			fail(err)
		}
		if *runs < 1 {
			fail(fmt.Errorf("-runs %d: need at least one run", *runs))
		}
		if err := runCreate(createConfig{Size: n, Runs: *runs, OutDir: *out}); err != nil {
			fail(err)
		}
	case "pair":
		fs := flag.NewFlagSet("pair", flag.ExitOnError)
		size := fs.String("size", "1GiB", "size of the test file (e.g. 256MiB, 1GiB)")
		runs := fs.Int("runs", 3, "transfers of each pair; the median is reported")
		pairs := fs.String("pairs", "shoal-shoal,lt-lt,shoal-lt,lt-shoal", "SEEDER-LEECHER combinations to run, in order")
		highPerf := fs.Bool("lt-high-performance", false, "give libtorrent sessions lt.high_performance_seed() settings")
		out := fs.String("out", "bench/results", "directory for the JSON and SVG results")
		_ = fs.Parse(os.Args[2:])
		n, err := parseSize(*size)
		if err != nil {
			fail(err)
		}
		if *runs < 1 {
			fail(fmt.Errorf("-runs %d: need at least one run", *runs))
		}
		specs, err := parsePairs(*pairs)
		if err != nil {
			fail(err)
		}
		cfg := pairConfig{Size: n, Runs: *runs, Pairs: specs, OutDir: *out, HighPerf: *highPerf}
		if err := runPair(cfg); err != nil {
			fail(err)
		}
	case "-h", "-help", "--help", "help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "bench: unknown scenario %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: go run ./bench create [-size 1GiB] [-runs 3] [-out bench/results]")
	fmt.Fprintln(os.Stderr, "       go run ./bench pair [-size 1GiB] [-runs 3] [-pairs shoal-shoal,lt-lt,shoal-lt,lt-shoal]")
	fmt.Fprintln(os.Stderr, "                           [-lt-high-performance] [-out bench/results]")
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
