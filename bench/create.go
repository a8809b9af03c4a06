package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// createConfig holds the parameters of the "create" scenario.
type createConfig struct {
	Size   int64  // bytes in the test file
	Runs   int    // timed runs per tool
	OutDir string // where results are written
}

// pieceLength is what both tools use: mktorrent's -l 20 is 2^20 bytes.
const pieceLength = "1M"

// hashThreads is the thread count both tools get; the machine has 2 cores
// and shoal's default is all cores, so mktorrent is told the same.
const hashThreads = "2"

// toolResult is the summary of one tool's timed runs.
type toolResult struct {
	MedianSeconds float64   `json:"median_seconds"`
	MBPerS        float64   `json:"mb_per_s"` // 10^6 bytes per second of wall clock
	CPUSeconds    float64   `json:"cpu_seconds"`
	WallSeconds   []float64 `json:"wall_seconds"` // every run, in order
	InfoHash      string    `json:"info_hash"`
}

// machineInfo describes where a result was measured.
type machineInfo struct {
	NProc            int    `json:"nproc"`
	CPUModel         string `json:"cpu_model"`
	GoVersion        string `json:"go_version"`
	MktorrentVersion string `json:"mktorrent_version"`
}

// createResult is the JSON written for one "create" benchmark.
type createResult struct {
	Scenario  string      `json:"scenario"`
	Date      string      `json:"date"`
	Machine   machineInfo `json:"machine"`
	SizeBytes int64       `json:"size_bytes"`
	Runs      int         `json:"runs"`
	Shoal     toolResult  `json:"shoal"`
	Mktorrent toolResult  `json:"mktorrent"`
	Ratio     float64     `json:"ratio"` // shoal MB/s divided by mktorrent MB/s
	Commands  []string    `json:"commands"`
}

// runCreate times `shoal create` against mktorrent on one file.
func runCreate(cfg createConfig) error {
	mktorrent, err := exec.LookPath("mktorrent")
	if err != nil {
		return fmt.Errorf("mktorrent is not installed (apt-get install mktorrent): %w", err)
	}
	tmp, err := os.MkdirTemp("", "shoal-bench-create-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	data, shoalBin, err := prepareHashRun(tmp, cfg.Size)
	if err != nil {
		return err
	}

	shoalOut := filepath.Join(tmp, "shoal.torrent")
	mkOut := filepath.Join(tmp, "mktorrent.torrent")
	shoalArgs := []string{"create", data, "-o", shoalOut, "--no-date", "--piece-size", pieceLength}
	mkArgs := []string{"-t", hashThreads, "-l", "20", "-o", mkOut, data}

	var shoalWall, shoalCPU, mkWall, mkCPU []float64
	for i := range cfg.Runs {
		// Alternate the tools so drift in machine load hits both alike.
		for _, outFile := range []string{shoalOut, mkOut} {
			// mktorrent refuses to overwrite its output; treat both alike.
			if err := os.Remove(outFile); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
		w, c, err := timeCommand(shoalBin, shoalArgs...)
		if err != nil {
			return fmt.Errorf("shoal run %d: %w", i+1, err)
		}
		shoalWall, shoalCPU = append(shoalWall, w), append(shoalCPU, c)
		w, c, err = timeCommand(mktorrent, mkArgs...)
		if err != nil {
			return fmt.Errorf("mktorrent run %d: %w", i+1, err)
		}
		mkWall, mkCPU = append(mkWall, w), append(mkCPU, c)
		fmt.Fprintf(os.Stderr, "bench: run %d: shoal %.3f s, mktorrent %.3f s\n", i+1, shoalWall[i], mkWall[i])
	}

	shoalHash, err := sameInfoHash(shoalBin, shoalOut, mkOut)
	if err != nil {
		return err
	}

	res := createResult{
		Scenario:  "create",
		Date:      time.Now().UTC().Format(time.RFC3339),
		Machine:   describeMachine(mktorrent),
		SizeBytes: cfg.Size,
		Runs:      cfg.Runs,
		Shoal:     summarize(cfg.Size, shoalWall, shoalCPU, shoalHash),
		Mktorrent: summarize(cfg.Size, mkWall, mkCPU, shoalHash),
		// The temp dir is gone after the run; name it $TMP.
		Commands: []string{
			strings.ReplaceAll("shoal "+strings.Join(shoalArgs, " "), tmp, "$TMP"),
			strings.ReplaceAll("mktorrent "+strings.Join(mkArgs, " "), tmp, "$TMP"),
		},
	}
	res.Ratio = res.Shoal.MBPerS / res.Mktorrent.MBPerS
	return writeCreateResult(cfg.OutDir, res)
}

// writeRandomFile fills path with size bytes from a fixed-seed generator, so
// every run hashes the same data; ChaCha8 writes GB/s, far faster than the
// tools hash.
func writeRandomFile(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	rng := rand.NewChaCha8([32]byte{'s', 'h', 'o', 'a', 'l'})
	w := bufio.NewWriterSize(f, 4<<20)
	if _, err := io.CopyN(w, rng, size); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// buildShoal compiles cmd/shoal with the go command on PATH (go run puts
// its own there), from the module this program belongs to.
func buildShoal(out string) error {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		// The toolchain's usual place on the project's machines.
		goCmd = "/usr/local/go/bin/go"
	}
	if msg, err := exec.Command(goCmd, "build", "-o", out, "shoal/cmd/shoal").CombinedOutput(); err != nil {
		return fmt.Errorf("go build shoal/cmd/shoal: %v\n%s", err, msg)
	}
	return nil
}

// warmCache reads the file once so every timed run, the first included,
// hashes from the page cache rather than from the disk.
func warmCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}

// timeCommand runs a command and returns its wall-clock and CPU (user +
// system, from its rusage) seconds; a non-zero exit is an error with stderr.
func timeCommand(name string, args ...string) (wall, cpu float64, err error) {
	return timeCommandTo(io.Discard, name, args...)
}

// timeCommandTo is timeCommand with the command's stdout written to stdout.
func timeCommandTo(stdout io.Writer, name string, args ...string) (wall, cpu float64, err error) {
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout = stdout
	cmd.Stderr = &stderr
	start := time.Now()
	err = cmd.Run()
	wall = time.Since(start).Seconds()
	if err != nil {
		return 0, 0, fmt.Errorf("%s %s: %v: %s", filepath.Base(name), strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	st := cmd.ProcessState
	return wall, (st.UserTime() + st.SystemTime()).Seconds(), nil
}

// infoHash asks shoal for a torrent's v1 info hash.
func infoHash(shoalBin, torrent string) (string, error) {
	out, err := exec.Command(shoalBin, "info", "--json", torrent).Output()
	if err != nil {
		return "", fmt.Errorf("shoal info --json %s: %w", torrent, err)
	}
	var info struct {
		InfoHash string `json:"info_hash"`
	}
	if err := json.Unmarshal(out, &info); err != nil || len(info.InfoHash) != 40 {
		return "", fmt.Errorf("shoal info --json %s: no info_hash in %q", torrent, out)
	}
	return info.InfoHash, nil
}

// median returns the middle value (mean of the two middle ones for an even
// count).
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func summarize(size int64, wall, cpu []float64, hash string) toolResult {
	m := median(wall)
	return toolResult{
		MedianSeconds: m,
		MBPerS:        float64(size) / 1e6 / m,
		CPUSeconds:    median(cpu),
		WallSeconds:   wall,
		InfoHash:      hash,
	}
}

// describeMachine records the hardware and tool versions of the run.
func describeMachine(mktorrent string) machineInfo {
	m := machineInfo{NProc: runtime.NumCPU(), GoVersion: runtime.Version(), CPUModel: "unknown"}
	if cpuinfo, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(cpuinfo)) {
			if key, val, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(key) == "model name" {
				m.CPUModel = strings.TrimSpace(val)
				break
			}
		}
	}
	// mktorrent has no --version; its help's first line names the version.
	out, _ := exec.Command(mktorrent, "-h").CombinedOutput()
	first, _, _ := strings.Cut(string(out), "\n")
	m.MktorrentVersion = strings.TrimSpace(strings.Split(first, "(")[0])
	return m
}

// writeCreateResult writes the JSON and SVG files and prints the summary.
func writeCreateResult(dir string, res createResult) error {
	base, err := writeResultJSON(dir, "create", res)
	if err != nil {
		return err
	}
	title := fmt.Sprintf("create: %s file, %s pieces, %s threads (MB/s, higher is better)",
		humanBytes(res.SizeBytes), pieceLength, hashThreads)
	if err := writeBarChart(base+".svg", title, "MB/s", []bar{
		{Label: "shoal", Value: res.Shoal.MBPerS},
		{Label: "mktorrent", Value: res.Mktorrent.MBPerS},
	}); err != nil {
		return err
	}
	fmt.Printf("create: hashing a %s file (1 MiB pieces, median of %d runs, %d CPUs, %s), shoal took %.3f s "+
		"(%.0f MB/s, %.2f s CPU) and %s took %.3f s (%.0f MB/s, %.2f s CPU); shoal/mktorrent "+
		"throughput ratio %.2f. Both made info hash %s. Results: %s.json, %s.svg\n",
		humanBytes(res.SizeBytes), res.Runs, res.Machine.NProc, res.Machine.CPUModel,
		res.Shoal.MedianSeconds, res.Shoal.MBPerS, res.Shoal.CPUSeconds,
		res.Machine.MktorrentVersion, res.Mktorrent.MedianSeconds, res.Mktorrent.MBPerS, res.Mktorrent.CPUSeconds,
		res.Ratio, res.Shoal.InfoHash, base, base)
	return nil
}

// humanBytes prints a size in the largest binary unit that divides it evenly
// enough to read, e.g. "256 MiB".
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.4g GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.4g MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.4g KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func init() {
	scenarios["create"] = scenario{
		usage: "create [-size 1GiB] [-runs 3] [-out bench/results]",
		run: func(args []string) error {
			fs := flag.NewFlagSet("create", flag.ExitOnError)
			size := fs.String("size", "1GiB", "size of the test file (e.g. 256MiB, 1GiB)")
			runs := fs.Int("runs", 3, "timed runs of each tool; the median is reported")
			out := fs.String("out", "bench/results", "directory for the JSON and SVG results")
			_ = fs.Parse(args)
			n, err := parseSize(*size)
			if err != nil {
				return err
			}
			if *runs < 1 {
				return fmt.Errorf("-runs %d: need at least one run", *runs)
			}
			return runCreate(createConfig{Size: n, Runs: *runs, OutDir: *out})
		},
	}
}

// prepareHashRun writes size bytes of pseudo-random data to tmp/data.bin,
// builds shoal as tmp/shoal and reads the data once so that it is in the
// page cache: what the create and hash scenarios time starts from there.
func prepareHashRun(tmp string, size int64) (data, shoalBin string, err error) {
	data = filepath.Join(tmp, "data.bin")
	fmt.Fprintf(os.Stderr, "bench: writing %d bytes of test data to %s\n", size, data)
	if err := writeRandomFile(data, size); err != nil {
		return "", "", err
	}
	shoalBin = filepath.Join(tmp, "shoal")
	fmt.Fprintln(os.Stderr, "bench: building shoal")
	if err := buildShoal(shoalBin); err != nil {
		return "", "", err
	}
	return data, shoalBin, warmCache(data)
}

// sameInfoHash returns the info hash of the torrent shoal made, after
// checking that mktorrent's torrent of the same file has the same one: a
// speed is only worth reporting for a torrent that is right.
func sameInfoHash(shoalBin, shoalTorrent, mkTorrent string) (string, error) {
	shoalHash, err := infoHash(shoalBin, shoalTorrent)
	if err != nil {
		return "", fmt.Errorf("reading shoal's torrent: %w", err)
	}
	mkHash, err := infoHash(shoalBin, mkTorrent)
	if err != nil {
		return "", fmt.Errorf("reading mktorrent's torrent: %w", err)
	}
	if shoalHash != mkHash {
		return "", fmt.Errorf("info hashes differ for the same file and piece length: shoal %s, mktorrent %s", shoalHash, mkHash)
	}
	return shoalHash, nil
}
