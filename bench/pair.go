package main

import (
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pairLibtorrentScript plays libtorrent's side of a pair; it runs under
// /usr/bin/python3, the only Python here that imports libtorrent.
//
//go:embed pair_lt.py
var pairLibtorrentScript []byte

// systemPython is Debian's Python, which has the python3-libtorrent module.
const systemPython = "/usr/bin/python3"

// Loopback addresses of the two sides, distinct so each process has its own.
const (
	pairSeederIP  = "127.0.0.2"
	pairLeecherIP = "127.0.0.3"
)

// pairClients are the implementations a side can be.
var pairClients = []string{"shoal", "lt"}

// pairSpec is one seeder → leecher combination.
type pairSpec struct {
	Seeder, Leecher string // "shoal" or "lt"
}

func (p pairSpec) String() string { return p.Seeder + "-" + p.Leecher }

// parsePairs reads -pairs: a comma-separated list like "shoal-shoal,lt-lt".
func parsePairs(s string) ([]pairSpec, error) {
	var out []pairSpec
	for _, part := range strings.Split(s, ",") {
		seeder, leecher, ok := strings.Cut(strings.TrimSpace(part), "-")
		if !ok || !slices.Contains(pairClients, seeder) || !slices.Contains(pairClients, leecher) {
			return nil, fmt.Errorf("-pairs %q: %q is not SEEDER-LEECHER with each side shoal or lt", s, part)
		}
		p := pairSpec{seeder, leecher}
		if slices.Contains(out, p) {
			return nil, fmt.Errorf("-pairs %q: %s is listed twice", s, p)
		}
		out = append(out, p)
	}
	return out, nil
}

// pairConfig holds the parameters of the "pair" scenario.
type pairConfig struct {
	Size     int64      // bytes in the test file
	Runs     int        // timed transfers per pair
	Pairs    []pairSpec // in the order they run within each round
	OutDir   string     // where results are written
	HighPerf bool       // libtorrent sessions use lt.high_performance_seed()
	GetFlags []string   // extra flags for shoal get (experiments)
}

// pairRun is one measured transfer.
type pairRun struct {
	TransferSeconds float64 `json:"transfer_seconds"` // first TCP connection → completion
	ConnectSeconds  float64 `json:"connect_seconds"`  // leecher start → first TCP connection
	Seconds         float64 `json:"seconds"`          // leecher start → completion seen by the benchmark
	ExitSeconds     float64 `json:"exit_seconds"`     // leecher start → leecher process exit
	ReportedSeconds float64 `json:"reported_seconds"` // the leecher's own figure
	SeederCPU       float64 `json:"seeder_cpu_seconds"`
	LeecherCPU      float64 `json:"leecher_cpu_seconds"`
	SeederPeakRSS   int64   `json:"seeder_peak_rss_bytes"`
	LeecherPeakRSS  int64   `json:"leecher_peak_rss_bytes"`
}

// pairSummary sums up the runs of one pair.
type pairSummary struct {
	Pair              string    `json:"pair"`
	Seeder            string    `json:"seeder"`
	Leecher           string    `json:"leecher"`
	MedianSeconds     float64   `json:"median_transfer_seconds"`
	MBPerS            float64   `json:"mb_per_s"` // 10^6 bytes per second, from the median transfer time
	MedianTotal       float64   `json:"median_total_seconds"`
	TotalMBPerS       float64   `json:"total_mb_per_s"` // from the median time since the leecher started
	SeederCPUPerGiB   float64   `json:"seeder_cpu_seconds_per_gib"`
	LeecherCPUPerGiB  float64   `json:"leecher_cpu_seconds_per_gib"`
	SeederPeakRSSMiB  float64   `json:"seeder_peak_rss_mib"` // the largest over the runs
	LeecherPeakRSSMiB float64   `json:"leecher_peak_rss_mib"`
	Runs              []pairRun `json:"runs"`
}

// pairMachine describes where a result was measured.
type pairMachine struct {
	NProc             int    `json:"nproc"`
	CPUModel          string `json:"cpu_model"`
	GoVersion         string `json:"go_version"`
	LibtorrentVersion string `json:"libtorrent_version"`
	LoadBefore        string `json:"loadavg_before"` // /proc/loadavg when the runs began
	LoadAfter         string `json:"loadavg_after"`
}

// pairResult is the JSON written for one "pair" benchmark.
type pairResult struct {
	Scenario           string        `json:"scenario"`
	Date               string        `json:"date"`
	Machine            pairMachine   `json:"machine"`
	SizeBytes          int64         `json:"size_bytes"`
	PieceLength        string        `json:"piece_length"`
	Runs               int           `json:"runs"`
	LibtorrentSettings string        `json:"libtorrent_settings"`
	Method             string        `json:"method"`
	Pairs              []pairSummary `json:"pairs"`
	// Ratio is shoal-shoal MB/s over lt-lt MB/s; 0 when either did not run.
	Ratio      float64  `json:"ratio_shoal_over_libtorrent"`
	TotalRatio float64  `json:"total_ratio_shoal_over_libtorrent"` // the same from total times
	Commands   []string `json:"commands"`
}

// pairMethod says in the result what the figures mean.
const pairMethod = "mb_per_s and transfer_seconds: from the first established TCP connection between the two " +
	"(seen by polling /proc/net/tcp every ms) to the benchmark reading the leecher's completion line " +
	"(every piece verified; for shoal get the status line with all pieces, printed before it syncs and " +
	"closes). total_mb_per_s and seconds: from starting the leecher process to that line, so they include " +
	"its start-up and how soon it dials (libtorrent dials on its 500 ms tick). exit_seconds: to the " +
	"leecher's exit (shoal get fdatasyncs the file before it exits). Seeder CPU: /proc utime+stime during that " +
	"interval (not its start-up check); leecher CPU: rusage of the whole process. Peak RSS: rusage ru_maxrss " +
	"of each process over its life (libtorrent counts the file pages it maps). The source file is read once " +
	"to warm the page cache; the page cache is not dropped between runs. Leecher data is deleted between runs."

// pairEnv is what every transfer of one benchmark shares.
type pairEnv struct {
	tmp, shoalBin, script, torrent, source string
	sourceSHA1                             string
	cfg                                    pairConfig
}

// runPair measures one seeder → one leecher over loopback for each pair.
func runPair(cfg pairConfig) error {
	if _, err := os.Stat(systemPython); err != nil {
		return fmt.Errorf("%s is needed for libtorrent's side: %w", systemPython, err)
	}
	ltVersion, err := exec.Command(systemPython, "-c", "import libtorrent; print(libtorrent.__version__)").Output()
	if err != nil {
		return fmt.Errorf("python3-libtorrent is not importable by %s (apt-get install python3-libtorrent): %w", systemPython, err)
	}
	tmp, err := os.MkdirTemp("", "shoal-bench-pair-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	env := &pairEnv{tmp: tmp, cfg: cfg,
		shoalBin: filepath.Join(tmp, "shoal"), script: filepath.Join(tmp, "pair_lt.py"),
		torrent: filepath.Join(tmp, "pair.torrent"), source: filepath.Join(tmp, "src", "pair.bin")}
	if err := os.WriteFile(env.script, pairLibtorrentScript, 0o644); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(env.source), 0o755); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: writing %d bytes of test data to %s\n", cfg.Size, env.source)
	if err := writeRandomFile(env.source, cfg.Size); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "bench: building shoal")
	if err := buildShoal(env.shoalBin); err != nil {
		return err
	}
	createArgs := []string{"create", env.source, "-o", env.torrent, "--piece-size", pieceLength, "--no-date"}
	if out, err := exec.Command(env.shoalBin, createArgs...).CombinedOutput(); err != nil {
		return fmt.Errorf("shoal %s: %v: %s", strings.Join(createArgs, " "), err, out)
	}
	// Write the source to disk now: its writeback would otherwise run
	// during the first transfers and slow them. Hashing it then warms the
	// page cache, so every seeder reads it from memory, the first included.
	syscall.Sync()
	if env.sourceSHA1, err = fileSHA1(env.source); err != nil {
		return err
	}

	res := pairResult{
		Scenario: "pair", SizeBytes: cfg.Size, PieceLength: "1 MiB", Runs: cfg.Runs, Method: pairMethod,
		LibtorrentSettings: "libtorrent defaults (settings_pack) with listen_interfaces, DHT/LSD/UPnP/NAT-PMP off, " +
			"TCP only, plaintext outgoing, allow_multiple_connections_per_ip; the seeder checks the data when " +
			"added (no seed_mode), as shoal seed does",
	}
	if cfg.HighPerf {
		res.LibtorrentSettings = strings.Replace(res.LibtorrentSettings, "libtorrent defaults", "lt.high_performance_seed()", 1)
	}
	res.Machine = pairMachine{NProc: nproc(), CPUModel: cpuModel(), GoVersion: goVersion(),
		LibtorrentVersion: strings.TrimSpace(string(ltVersion)), LoadBefore: loadAvg()}
	if load := res.Machine.LoadBefore; loadAbove(load, 1) {
		fmt.Fprintf(os.Stderr, "bench: warning: the machine is busy (load %s); figures will be noisy\n", load)
	}

	runs := make(map[pairSpec][]pairRun)
	for round := range cfg.Runs {
		for _, p := range cfg.Pairs {
			r, err := env.transfer(p, round)
			if err != nil {
				return fmt.Errorf("%s, run %d: %w", p, round+1, err)
			}
			runs[p] = append(runs[p], r)
			fmt.Fprintf(os.Stderr, "bench: run %d %-11s %6.3f s (%4.0f MB/s) after connecting in %.3f s, exit %6.3f s; "+
				"CPU seeder %.2f s, leecher %.2f s; peak RSS seeder %.0f MiB, leecher %.0f MiB\n",
				round+1, p, r.TransferSeconds, float64(cfg.Size)/1e6/r.TransferSeconds, r.ConnectSeconds, r.ExitSeconds, r.SeederCPU, r.LeecherCPU, mib(r.SeederPeakRSS), mib(r.LeecherPeakRSS))
		}
	}
	res.Machine.LoadAfter = loadAvg()
	res.Date = time.Now().UTC().Format(time.RFC3339)
	byPair := map[string]pairSummary{}
	for _, p := range cfg.Pairs {
		s := summarizePair(p, cfg.Size, runs[p])
		byPair[s.Pair] = s
		res.Pairs = append(res.Pairs, s)
	}
	if ss, ll := byPair["shoal-shoal"], byPair["lt-lt"]; ss.MBPerS > 0 && ll.MBPerS > 0 {
		res.Ratio = ss.MBPerS / ll.MBPerS
		res.TotalRatio = ss.TotalMBPerS / ll.TotalMBPerS
	}
	res.Commands = env.commands()
	return writePairResult(cfg.OutDir, res)
}

// transfer runs one seeder and one leecher to completion and checks the
// leecher's file.
func (e *pairEnv) transfer(p pairSpec, round int) (pairRun, error) {
	var r pairRun
	dir := filepath.Join(e.tmp, fmt.Sprintf("run-%d-%s", round+1, p))
	defer os.RemoveAll(dir)
	seedPort, err := freePort(pairSeederIP)
	if err != nil {
		return r, err
	}
	leechPort, err := freePort(pairLeecherIP)
	if err != nil {
		return r, err
	}
	seedAddr := net.JoinHostPort(pairSeederIP, strconv.Itoa(seedPort))
	leechAddr := net.JoinHostPort(pairLeecherIP, strconv.Itoa(leechPort))
	outDir := filepath.Join(dir, "leecher")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return r, err
	}

	seeder, err := startProc(e.seederCommand(p.Seeder, dir, seedAddr))
	if err != nil {
		return r, fmt.Errorf("starting the %s seeder: %w", p.Seeder, err)
	}
	defer seeder.kill()
	readyTimeout := 60*time.Second + time.Duration(e.cfg.Size/(100<<20))*time.Second // its start-up hash check
	if _, err := seeder.waitLine(readyTimeout, seederReady(p.Seeder)); err != nil {
		return r, fmt.Errorf("%s seeder did not start: %w", p.Seeder, err)
	}

	cpuBefore, err := procCPU(seeder.cmd.Process.Pid)
	if err != nil {
		return r, err
	}
	stopWatch := make(chan struct{})
	defer close(stopWatch)
	connected := watchConnection(netip.MustParseAddrPort(seedAddr), stopWatch)
	leecher, err := startProc(e.leecherCommand(p.Leecher, dir, outDir, leechAddr, seedAddr))
	if err != nil {
		return r, fmt.Errorf("starting the %s leecher: %w", p.Leecher, err)
	}
	defer leecher.kill()
	// Far more than a working transfer needs: 2 MB/s, and at least a minute.
	timeout := max(time.Minute, time.Duration(e.cfg.Size/2e6)*time.Second)
	line, err := leecher.waitLine(timeout, leecherDone(p.Leecher))
	if err != nil {
		return r, fmt.Errorf("%s leecher did not complete: %w", p.Leecher, err)
	}
	r.Seconds = line.at.Sub(leecher.start).Seconds()
	select {
	case at := <-connected:
		r.ConnectSeconds = at.Sub(leecher.start).Seconds()
		r.TransferSeconds = line.at.Sub(at).Seconds()
	default:
		return r, fmt.Errorf("%s leecher completed, but no TCP connection to the seeder at %s was seen", p.Leecher, seedAddr)
	}
	cpuAfter, err := procCPU(seeder.cmd.Process.Pid)
	if err != nil {
		return r, fmt.Errorf("the %s seeder exited during the transfer: %w", p.Seeder, err)
	}
	r.SeederCPU = cpuAfter - cpuBefore
	// shoal get prints its "done" line (with its own time) after the status
	// line that showed completion.
	if p.Leecher == "shoal" && !strings.Contains(line.text, `"done"`) {
		if line, err = leecher.waitLine(time.Minute, func(l string) bool { return strings.Contains(l, `"done":true`) }); err != nil {
			return r, fmt.Errorf("shoal leecher: no done line: %w", err)
		}
	}
	var reported struct {
		Seconds float64 `json:"seconds"`
	}
	if err := json.Unmarshal([]byte(line.text), &reported); err != nil {
		return r, fmt.Errorf("%s leecher: bad done line %q: %w", p.Leecher, line.text, err)
	}
	r.ReportedSeconds = reported.Seconds
	if err := leecher.wait(time.Minute); err != nil {
		return r, fmt.Errorf("%s leecher: %w", p.Leecher, err)
	}
	r.ExitSeconds = leecher.end.Sub(leecher.start).Seconds()
	r.LeecherCPU, r.LeecherPeakRSS = leecher.usage()
	if err := seeder.stop(); err != nil {
		return r, fmt.Errorf("%s seeder: %w", p.Seeder, err)
	}
	_, r.SeederPeakRSS = seeder.usage()

	got, err := fileSHA1(filepath.Join(outDir, filepath.Base(e.source)))
	if err != nil {
		return r, fmt.Errorf("reading the leecher's file: %w", err)
	}
	if got != e.sourceSHA1 {
		return r, fmt.Errorf("the leecher's file differs from the source: SHA-1 %s, want %s", got, e.sourceSHA1)
	}
	// Let the deleted file's writeback settle before the next transfer.
	if err := os.RemoveAll(dir); err != nil {
		return r, err
	}
	syscall.Sync()
	return r, nil
}

func (e *pairEnv) seederCommand(client, dir, listen string) *exec.Cmd {
	host, port, _ := net.SplitHostPort(listen)
	if client == "shoal" {
		return exec.Command(e.shoalBin, "seed", e.torrent, e.source, "--bind", host, "--port", port,
			"--data-dir", filepath.Join(dir, "seeder-data"), "--no-dht")
	}
	args := []string{e.script, "seed", e.torrent, filepath.Dir(e.source), "--listen", listen}
	if e.cfg.HighPerf {
		args = append(args, "--high-performance")
	}
	return exec.Command(systemPython, args...)
}

func (e *pairEnv) leecherCommand(client, dir, outDir, listen, peer string) *exec.Cmd {
	host, port, _ := net.SplitHostPort(listen)
	if client == "shoal" {
		args := append([]string{"get", e.torrent, "-o", outDir, "--peer", peer, "--bind", host,
			"--port", port, "--data-dir", filepath.Join(dir, "leecher-data"), "--json", "--no-dht"}, e.cfg.GetFlags...)
		return exec.Command(e.shoalBin, args...)
	}
	args := []string{e.script, "get", e.torrent, outDir, "--listen", listen, "--peer", peer}
	if e.cfg.HighPerf {
		args = append(args, "--high-performance")
	}
	return exec.Command(systemPython, args...)
}

// commands lists the command lines of one round, for the result.
func (e *pairEnv) commands() []string {
	d := filepath.Join(e.tmp, "run")
	seed, leech := pairSeederIP+":SEEDPORT", pairLeecherIP+":LEECHPORT"
	cmds := []string{"shoal create " + e.source + " -o " + e.torrent + " --piece-size " + pieceLength + " --no-date"}
	for _, c := range pairClients {
		cmds = append(cmds, strings.Join(e.seederCommand(c, d, seed).Args, " "))
		cmds = append(cmds, strings.Join(e.leecherCommand(c, d, filepath.Join(d, "leecher"), leech, seed).Args, " "))
	}
	for i, c := range cmds {
		c = strings.ReplaceAll(c, e.shoalBin, "shoal")
		c = strings.ReplaceAll(c, e.script, "bench/pair_lt.py")
		cmds[i] = strings.ReplaceAll(c, e.tmp, "$TMP")
	}
	return cmds
}

// seederReady matches the line a seeder prints once it serves the torrent.
func seederReady(client string) func(string) bool {
	if client == "shoal" {
		return func(l string) bool { return strings.HasPrefix(l, "seeding ") && strings.Contains(l, " on ") }
	}
	return func(l string) bool { return strings.Contains(l, `"ready": true`) }
}

// leecherDone matches the first line that shows the download complete:
// shoal get's status line with every piece, or its done line.
func leecherDone(client string) func(string) bool {
	if client == "lt" {
		return func(l string) bool { return strings.Contains(l, `"done": true`) }
	}
	return func(l string) bool {
		var st struct {
			Done       bool `json:"done"`
			Pieces     int  `json:"pieces"`
			PiecesHave int  `json:"pieces_have"`
		}
		if json.Unmarshal([]byte(l), &st) != nil {
			return false
		}
		return st.Done || (st.Pieces > 0 && st.PiecesHave == st.Pieces)
	}
}

func summarizePair(p pairSpec, size int64, runs []pairRun) pairSummary {
	var secs, totals, scpu, lcpu []float64
	s := pairSummary{Pair: p.String(), Seeder: p.Seeder, Leecher: p.Leecher, Runs: runs}
	for _, r := range runs {
		secs, totals = append(secs, r.TransferSeconds), append(totals, r.Seconds)
		scpu, lcpu = append(scpu, r.SeederCPU), append(lcpu, r.LeecherCPU)
		s.SeederPeakRSSMiB = max(s.SeederPeakRSSMiB, mib(r.SeederPeakRSS))
		s.LeecherPeakRSSMiB = max(s.LeecherPeakRSSMiB, mib(r.LeecherPeakRSS))
	}
	gib := float64(size) / (1 << 30)
	s.MedianSeconds = median(secs)
	s.MBPerS = float64(size) / 1e6 / s.MedianSeconds
	s.MedianTotal = median(totals)
	s.TotalMBPerS = float64(size) / 1e6 / s.MedianTotal
	s.SeederCPUPerGiB = median(scpu) / gib
	s.LeecherCPUPerGiB = median(lcpu) / gib
	return s
}

// pairLabels are the chart's names for the pairs: short enough for its
// label column.
var pairLabels = map[string]string{"shoal": "shoal", "lt": "libtorrent"}

func writePairResult(dir string, res pairResult) error {
	base, err := writeResultJSON(dir, "pair", res)
	if err != nil {
		return err
	}
	var bars []bar
	for _, s := range res.Pairs {
		bars = append(bars, bar{Label: s.Seeder + "→" + s.Leecher, Value: s.MBPerS})
	}
	settings := "libtorrent defaults"
	if strings.HasPrefix(res.LibtorrentSettings, "lt.high") {
		settings = "lt.high_performance_seed()"
	}
	title := fmt.Sprintf("pair: %s seeder → leecher on loopback, lt = libtorrent (MB/s, median of %d)",
		humanBytes(res.SizeBytes), res.Runs)
	if err := writeBarChart(base+".svg", title, "MB/s", bars); err != nil {
		return err
	}
	fmt.Printf("pair: %s over loopback, 1 MiB pieces, median of %d runs, %d CPUs (%s), libtorrent %s with %s; load %s → %s\n",
		humanBytes(res.SizeBytes), res.Runs, res.Machine.NProc, res.Machine.CPUModel, res.Machine.LibtorrentVersion,
		settings, res.Machine.LoadBefore, res.Machine.LoadAfter)
	fmt.Printf("%-22s %6s %8s %11s %8s %14s %15s %12s %13s\n", "seeder→leecher", "MB/s", "s", "total MB/s", "total s",
		"seed CPU s/GiB", "leech CPU s/GiB", "seed RSS MiB", "leech RSS MiB")
	for _, s := range res.Pairs {
		fmt.Printf("%-22s %6.0f %8.3f %11.0f %8.3f %14.2f %15.2f %12.0f %13.0f\n", pairLabels[s.Seeder]+"→"+pairLabels[s.Leecher],
			s.MBPerS, s.MedianSeconds, s.TotalMBPerS, s.MedianTotal, s.SeederCPUPerGiB, s.LeecherCPUPerGiB,
			s.SeederPeakRSSMiB, s.LeecherPeakRSSMiB)
	}
	if res.Ratio > 0 {
		fmt.Printf("ratio shoal→shoal / libtorrent→libtorrent: %.2f from the first connection, %.2f from the leecher's start\n",
			res.Ratio, res.TotalRatio)
	}
	fmt.Printf("Results: %s.json, %s.svg\n", base, base)
	return nil
}

func init() {
	scenarios["pair"] = scenario{
		usage: "pair [-size 1GiB] [-runs 3] [-pairs shoal-shoal,lt-lt,shoal-lt,lt-shoal] [-lt-high-performance] [-out bench/results]",
		run: func(args []string) error {
			fs := flag.NewFlagSet("pair", flag.ExitOnError)
			size := fs.String("size", "1GiB", "size of the test file (e.g. 256MiB, 1GiB)")
			runs := fs.Int("runs", 3, "transfers of each pair; the median is reported")
			pairs := fs.String("pairs", "shoal-shoal,lt-lt,shoal-lt,lt-shoal", "SEEDER-LEECHER combinations to run, in order")
			highPerf := fs.Bool("lt-high-performance", false, "give libtorrent sessions lt.high_performance_seed() settings")
			getFlags := fs.String("shoal-get-flags", "", "extra flags for shoal get, space-separated (for experiments)")
			out := fs.String("out", "bench/results", "directory for the JSON and SVG results")
			_ = fs.Parse(args)
			n, err := parseSize(*size)
			if err != nil {
				return err
			}
			if *runs < 1 {
				return fmt.Errorf("-runs %d: need at least one run", *runs)
			}
			specs, err := parsePairs(*pairs)
			if err != nil {
				return err
			}
			return runPair(pairConfig{Size: n, Runs: *runs, Pairs: specs, OutDir: *out, HighPerf: *highPerf,
				GetFlags: strings.Fields(*getFlags)})
		},
	}
}
