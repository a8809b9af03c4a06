package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// hashTarget is the goal: hashing and rechecking at 1.8 times one
// core's SHA-1 speed on a 2-core machine.
const hashTarget = 1.8

// sha1Block is the openssl speed column used as one core's SHA-1 speed:
// the largest block size, where per-call overhead no longer counts, as for
// the 1 MiB pieces being hashed.
const sha1Block = 16384

// hashConfig holds the parameters of the "hash" scenario.
type hashConfig struct {
	Size   int64
	Runs   int
	OutDir string
	// QuietWait is how long each timed command may wait for a quiet machine
	// (waitQuiet) before it starts anyway.
	QuietWait time.Duration
}

// sha1Result is one core's SHA-1 speed as openssl measures it.
type sha1Result struct {
	MBPerS     float64   `json:"mb_per_s"` // median
	BlockBytes int       `json:"block_bytes"`
	Runs       []float64 `json:"runs"`
	Command    string    `json:"command"`
}

// verifySelfReport is what "shoal verify --json" says about one run.
type verifySelfReport struct {
	OK             bool    `json:"ok"`
	InfoHash       string  `json:"info_hash"`
	Pieces         int     `json:"pieces"`
	PiecesVerified int     `json:"pieces_verified"`
	Bytes          int64   `json:"bytes"`
	Seconds        float64 `json:"seconds"`
	MBPerS         float64 `json:"mb_per_s"`
}

// hashResult is the JSON written for one "hash" benchmark.
type hashResult struct {
	Scenario    string      `json:"scenario"`
	Date        string      `json:"date"`
	Machine     machineInfo `json:"machine"`
	LoadAvg     string      `json:"loadavg"`       // /proc/loadavg before the runs
	LoadAvgEnd  string      `json:"loadavg_after"` // and after them
	SizeBytes   int64       `json:"size_bytes"`
	PieceLength string      `json:"piece_length"`
	Runs        int         `json:"runs"`
	// BusyStarts counts the timed commands that started while other
	// processes were still running (after waiting QuietWait for them).
	BusyStarts  int        `json:"busy_starts"`
	SHA1OneCore sha1Result `json:"sha1_one_core"`
	ShoalCreate toolResult `json:"shoal_create"`
	Mktorrent   toolResult `json:"mktorrent"`
	ShoalVerify toolResult `json:"shoal_verify"`
	// VerifyInternalMBPerS is the median of what shoal verify reports for
	// its hashing alone (without process start and torrent loading).
	VerifyInternalMBPerS float64 `json:"verify_internal_mb_per_s"`
	// BestMBPerS is each tool's fastest run: on a shared machine the
	// median carries other processes' load, the best run less of it.
	BestMBPerS map[string]float64 `json:"best_mb_per_s"`
	// Ratios of median MB/s (higher is better for shoal).
	CreateOverSHA1      float64  `json:"create_over_sha1"`
	VerifyOverSHA1      float64  `json:"verify_over_sha1"`
	CreateOverMktorrent float64  `json:"create_over_mktorrent"`
	Target              float64  `json:"target_over_sha1"`
	Commands            []string `json:"commands"`
}

// runHash times shoal create, mktorrent and shoal verify on one file, and
// openssl's single-core SHA-1, alternating them so that drift in machine
// load hits all alike.
func runHash(cfg hashConfig) error {
	mktorrent, err := exec.LookPath("mktorrent")
	if err != nil {
		return fmt.Errorf("mktorrent is not installed (apt-get install mktorrent): %w", err)
	}
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		return fmt.Errorf("openssl is not installed (apt-get install openssl): %w", err)
	}
	tmp, err := os.MkdirTemp("", "shoal-bench-hash-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	data, shoalBin, err := prepareHashRun(tmp, cfg.Size)
	if err != nil {
		return err
	}
	loadAvg := readLoadAvg()

	shoalOut := filepath.Join(tmp, "shoal.torrent")
	mkOut := filepath.Join(tmp, "mktorrent.torrent")
	createArgs := []string{"create", data, "-o", shoalOut, "--no-date", "--piece-size", pieceLength}
	mkArgs := []string{"-t", hashThreads, "-l", "20", "-o", mkOut, data}
	verifyArgs := []string{"verify", "--json", shoalOut, data}
	sslArgs := []string{"speed", "-evp", "sha1", "-bytes", strconv.Itoa(sha1Block), "-seconds", "2"}
	wantPieces := int((cfg.Size + (1 << 20) - 1) >> 20)

	var (
		createWall, createCPU, mkWall, mkCPU, verifyWall, verifyCPU []float64
		sha1Runs, verifyInternal                                    []float64
	)
	busyStarts := 0
	// settle waits for a quiet machine before each timed command.
	settle := func(what string, run int) {
		if cfg.QuietWait > 0 && !waitQuiet(cfg.QuietWait) {
			busyStarts++
			fmt.Fprintf(os.Stderr, "bench: %s, run %d, starts on a busy machine (load %s)\n", what, run, readLoadAvg())
		}
	}
	for i := range cfg.Runs {
		for _, outFile := range []string{shoalOut, mkOut} {
			// mktorrent refuses to overwrite its output; treat both alike.
			if err := os.Remove(outFile); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
		settle("shoal create", i+1)
		w, c, err := timeCommand(shoalBin, createArgs...)
		if err != nil {
			return fmt.Errorf("shoal create, run %d: %w", i+1, err)
		}
		createWall, createCPU = append(createWall, w), append(createCPU, c)

		settle("mktorrent", i+1)
		if w, c, err = timeCommand(mktorrent, mkArgs...); err != nil {
			return fmt.Errorf("mktorrent, run %d: %w", i+1, err)
		}
		mkWall, mkCPU = append(mkWall, w), append(mkCPU, c)

		var out bytes.Buffer
		settle("shoal verify", i+1)
		if w, c, err = timeCommandTo(&out, shoalBin, verifyArgs...); err != nil {
			return fmt.Errorf("shoal verify, run %d: %w", i+1, err)
		}
		var rep verifySelfReport
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			return fmt.Errorf("shoal verify, run %d: output is not its JSON report: %v: %q", i+1, err, out.String())
		}
		if !rep.OK || rep.Pieces != wantPieces || rep.PiecesVerified != wantPieces || rep.Bytes != cfg.Size {
			return fmt.Errorf("shoal verify, run %d: not every piece verified: %s", i+1, strings.TrimSpace(out.String()))
		}
		verifyWall, verifyCPU = append(verifyWall, w), append(verifyCPU, c)
		verifyInternal = append(verifyInternal, rep.MBPerS)

		out.Reset()
		settle("openssl speed", i+1)
		if _, _, err = timeCommandTo(&out, openssl, sslArgs...); err != nil {
			return fmt.Errorf("openssl speed, run %d: %w", i+1, err)
		}
		mbps, err := parseOpensslSpeed(out.String(), "sha1", sha1Block)
		if err != nil {
			return fmt.Errorf("openssl speed, run %d: %w", i+1, err)
		}
		sha1Runs = append(sha1Runs, mbps)
		fmt.Fprintf(os.Stderr, "bench: run %d: shoal create %.3f s, mktorrent %.3f s, shoal verify %.3f s, openssl sha1 %.0f MB/s\n",
			i+1, createWall[i], mkWall[i], verifyWall[i], mbps)
	}

	loadAvgEnd := readLoadAvg()
	createHash, err := sameInfoHash(shoalBin, shoalOut, mkOut)
	if err != nil {
		return err
	}

	res := hashResult{
		Scenario:    "hash",
		Date:        time.Now().UTC().Format(time.RFC3339),
		Machine:     describeMachine(mktorrent),
		LoadAvg:     loadAvg,
		LoadAvgEnd:  loadAvgEnd,
		BusyStarts:  busyStarts,
		SizeBytes:   cfg.Size,
		PieceLength: pieceLength,
		Runs:        cfg.Runs,
		SHA1OneCore: sha1Result{
			MBPerS: median(sha1Runs), BlockBytes: sha1Block, Runs: sha1Runs,
			Command: "openssl " + strings.Join(sslArgs, " "),
		},
		ShoalCreate:          summarize(cfg.Size, createWall, createCPU, createHash),
		Mktorrent:            summarize(cfg.Size, mkWall, mkCPU, createHash),
		ShoalVerify:          summarize(cfg.Size, verifyWall, verifyCPU, createHash),
		VerifyInternalMBPerS: median(verifyInternal),
		Target:               hashTarget,
		Commands: []string{
			strings.ReplaceAll("shoal "+strings.Join(createArgs, " "), tmp, "$TMP"),
			strings.ReplaceAll("mktorrent "+strings.Join(mkArgs, " "), tmp, "$TMP"),
			strings.ReplaceAll("shoal "+strings.Join(verifyArgs, " "), tmp, "$TMP"),
			"openssl " + strings.Join(sslArgs, " "),
		},
	}
	best := func(walls []float64) float64 { return float64(cfg.Size) / 1e6 / slices.Min(walls) }
	res.BestMBPerS = map[string]float64{
		"sha1_one_core": slices.Max(sha1Runs),
		"shoal_create":  best(createWall),
		"mktorrent":     best(mkWall),
		"shoal_verify":  best(verifyWall),
	}
	res.CreateOverSHA1 = res.ShoalCreate.MBPerS / res.SHA1OneCore.MBPerS
	res.VerifyOverSHA1 = res.ShoalVerify.MBPerS / res.SHA1OneCore.MBPerS
	res.CreateOverMktorrent = res.ShoalCreate.MBPerS / res.Mktorrent.MBPerS
	return writeHashResult(cfg.OutDir, res)
}

// parseOpensslSpeed reads the MB/s (10^6 bytes per second) of algorithm
// algo at block size block from the output of "openssl speed": a header
// line "type 16 bytes 64 bytes ... 16384 bytes" and a line starting with
// the algorithm's name whose numbers are in 1000s of bytes per second,
// each with a "k" suffix.
func parseOpensslSpeed(out, algo string, block int) (float64, error) {
	column := -1
	for line := range strings.Lines(out) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if fields[0] == "type" {
			column = -1
			for k := 1; k+1 < len(fields); k += 2 {
				if fields[k] == strconv.Itoa(block) && fields[k+1] == "bytes" {
					column = (k - 1) / 2
				}
			}
			continue
		}
		if !strings.EqualFold(fields[0], algo) || column < 0 {
			continue
		}
		values := fields[1:]
		if column >= len(values) {
			return 0, fmt.Errorf("openssl speed: %s line %q has no column for %d-byte blocks", algo, strings.TrimSpace(line), block)
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(values[column], "k"), 64)
		if err != nil || v <= 0 || !strings.HasSuffix(values[column], "k") {
			return 0, fmt.Errorf("openssl speed: %q is not a speed in 1000s of bytes per second", values[column])
		}
		return v / 1000, nil
	}
	return 0, fmt.Errorf("openssl speed: no %s result for %d-byte blocks in its output: %q", algo, block, out)
}

// writeHashResult writes the JSON and SVG files and prints the summary.
func writeHashResult(dir string, res hashResult) error {
	base, err := writeResultJSON(dir, "hash", res)
	if err != nil {
		return err
	}
	title := fmt.Sprintf("hash: %s file, 1 MiB pieces, %d CPUs (MB/s, higher is better)",
		humanBytes(res.SizeBytes), res.Machine.NProc)
	if err := writeBarChart(base+".svg", title, "MB/s", []bar{
		{Label: "SHA-1, 1 core", Value: res.SHA1OneCore.MBPerS},
		{Label: fmt.Sprintf("target %.1f×", res.Target), Value: res.Target * res.SHA1OneCore.MBPerS},
		{Label: "mktorrent -t " + hashThreads, Value: res.Mktorrent.MBPerS},
		{Label: "shoal create", Value: res.ShoalCreate.MBPerS},
		{Label: "shoal verify", Value: res.ShoalVerify.MBPerS},
	}); err != nil {
		return err
	}
	fmt.Printf("hash: %s file, 1 MiB pieces, median of %d runs (%d commands started on a busy machine) on %d CPUs (%s), load before: %s, after: %s.\n"+
		"  openssl sha1 one core (%d-byte blocks): %.0f MB/s\n"+
		"  shoal create:  %.3f s, %.0f MB/s, %.2f s CPU = %.2f× one-core SHA-1, %.2f× mktorrent\n"+
		"  mktorrent -t %s: %.3f s, %.0f MB/s, %.2f s CPU\n"+
		"  shoal verify:  %.3f s, %.0f MB/s (hashing alone %.0f MB/s), %.2f s CPU = %.2f× one-core SHA-1\n"+
		"  best runs: create %.0f, mktorrent %.0f, verify %.0f MB/s; SHA-1 %.0f MB/s\n"+
		"  target %.1f× one-core SHA-1 = %.0f MB/s. Info hash %s. Results: %s.json, %s.svg\n",
		humanBytes(res.SizeBytes), res.Runs, res.BusyStarts, res.Machine.NProc, res.Machine.CPUModel, res.LoadAvg, res.LoadAvgEnd,
		res.SHA1OneCore.BlockBytes, res.SHA1OneCore.MBPerS,
		res.ShoalCreate.MedianSeconds, res.ShoalCreate.MBPerS, res.ShoalCreate.CPUSeconds, res.CreateOverSHA1, res.CreateOverMktorrent,
		hashThreads, res.Mktorrent.MedianSeconds, res.Mktorrent.MBPerS, res.Mktorrent.CPUSeconds,
		res.ShoalVerify.MedianSeconds, res.ShoalVerify.MBPerS, res.VerifyInternalMBPerS, res.ShoalVerify.CPUSeconds, res.VerifyOverSHA1,
		res.BestMBPerS["shoal_create"], res.BestMBPerS["mktorrent"], res.BestMBPerS["shoal_verify"], res.BestMBPerS["sha1_one_core"],
		res.Target, res.Target*res.SHA1OneCore.MBPerS, res.ShoalCreate.InfoHash, base, base)
	return nil
}

func init() {
	scenarios["hash"] = scenario{
		usage: "hash [-size 1GiB] [-runs 3] [-quiet-wait 30s] [-out bench/results]",
		run: func(args []string) error {
			fs := flag.NewFlagSet("hash", flag.ExitOnError)
			size := fs.String("size", "1GiB", "size of the test file (e.g. 256MiB, 1GiB)")
			runs := fs.Int("runs", 3, "timed runs of each tool, alternating; the median is reported")
			out := fs.String("out", "bench/results", "directory for the JSON and SVG results")
			quiet := fs.Duration("quiet-wait", 30*time.Second, "how long each timed command may wait for other processes to stop running (0: never wait)")
			_ = fs.Parse(args)
			n, err := parseSize(*size)
			if err != nil {
				return err
			}
			if *runs < 1 {
				return fmt.Errorf("-runs %d: need at least one run", *runs)
			}
			return runHash(hashConfig{Size: n, Runs: *runs, OutDir: *out, QuietWait: *quiet})
		},
	}
}

// readLoadAvg returns /proc/loadavg, or "" where there is none.
func readLoadAvg() string {
	data, _ := os.ReadFile("/proc/loadavg")
	return strings.TrimSpace(string(data))
}
