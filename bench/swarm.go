package main

import (
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// swarmLibtorrentScript runs libtorrent's whole swarm (one session per
// peer) in one /usr/bin/python3 process.
//
//go:embed swarm_lt.py
var swarmLibtorrentScript []byte

// swarmConfig holds the parameters of the "swarm" scenario.
type swarmConfig struct {
	Ns        []int    // leecher counts, in the order they run
	Size      int64    // bytes in the file
	Rate      int64    // upload cap of every peer, bytes/s
	PieceSize string   // "auto" or a size for shoal create --piece-size
	Clients   []string // "shoal", "lt"
	OutDir    string
	Timeout   time.Duration // per swarm, after which it counts as failed
	ShoalBin  string        // a shoal binary to use instead of building one
	// ShoalFlags are extra flags for every shoal get (e.g. --cached-writes).
	ShoalFlags []string
}

// swarmRun is one swarm of one client at one N.
type swarmRun struct {
	Client string `json:"client"`
	N      int    `json:"n"`
	// Seconds is from starting the leechers to the last leecher having
	// every piece verified; Finish lists each leecher's time.
	Seconds          float64   `json:"seconds"`
	Finish           []float64 `json:"finish_seconds"`
	BoundSeconds     float64   `json:"bound_seconds"`         // max(F/U, N·F/(U+N·U))
	ClientServerSecs float64   `json:"client_server_seconds"` // N·F/U
	RatioToBound     float64   `json:"ratio_to_bound"`
	SeederUploaded   int64     `json:"seeder_uploaded_bytes"`
	SeederCopies     float64   `json:"seeder_copies"` // SeederUploaded / F
	LeecherUploaded  []int64   `json:"leecher_uploaded_bytes"`
	// CPUSeconds is the user + system CPU time of every process of the
	// swarm (libtorrent: its one python3 process), start-up included.
	CPUSeconds float64 `json:"cpu_seconds"`
}

// swarmResult is the JSON written for one "swarm" benchmark.
type swarmResult struct {
	Scenario    string      `json:"scenario"`
	Date        string      `json:"date"`
	Machine     pairMachine `json:"machine"`
	SizeBytes   int64       `json:"size_bytes"`
	RateBytes   int64       `json:"upload_cap_bytes_per_s"`
	PieceLength int64       `json:"piece_length"`
	Method      string      `json:"method"`
	ShoalFlags  []string    `json:"shoal_flags,omitempty"`
	Runs        []swarmRun  `json:"runs"`
	Commands    []string    `json:"commands"`
}

const swarmMethod = "One seeder and N leechers on loopback, each its own process (Shoal) or libtorrent session " +
	"(all in one python3 process), each on its own 127.0.x.y address, every upload capped at U (libtorrent: " +
	"upload_rate_limit with every address in the global peer class, so the cap applies on loopback), downloads " +
	"uncapped. Every leecher is given the seeder and every other leecher as peers (what a tracker would answer). " +
	"seconds: from starting the first leecher process (Shoal; its start-up included) or from the connect_peer calls " +
	"(libtorrent; its sessions already running) to the last leecher reporting every piece verified. bound: " +
	"max(F/U, N·F/(U+N·U)); client_server: N·F/U. seeder_copies: the seeder's uploaded payload bytes / F. Every " +
	"leecher's file is compared with the source (SHA-1) after the run."

// swarmEnv is what every swarm of one benchmark shares.
type swarmEnv struct {
	tmp, shoalBin, script, torrent, source, sourceSHA1 string
	cfg                                                swarmConfig
}

func runSwarm(cfg swarmConfig) error {
	tmp, err := os.MkdirTemp("", "shoal-bench-swarm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	env := &swarmEnv{tmp: tmp, cfg: cfg, shoalBin: filepath.Join(tmp, "shoal"),
		script: filepath.Join(tmp, "swarm_lt.py"), torrent: filepath.Join(tmp, "swarm.torrent"),
		source: filepath.Join(tmp, "src", "swarm.bin")}
	var ltVersion []byte
	if slices.Contains(cfg.Clients, "lt") {
		if ltVersion, err = exec.Command(systemPython, "-c", "import libtorrent; print(libtorrent.__version__)").Output(); err != nil {
			return fmt.Errorf("python3-libtorrent is not importable by %s (apt-get install python3-libtorrent): %w", systemPython, err)
		}
		if err := os.WriteFile(env.script, swarmLibtorrentScript, 0o644); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(env.source), 0o755); err != nil {
		return err
	}
	if err := writeRandomFile(env.source, cfg.Size); err != nil {
		return err
	}
	if cfg.ShoalBin != "" {
		env.shoalBin = cfg.ShoalBin
	} else {
		fmt.Fprintln(os.Stderr, "bench: building shoal")
		if err := buildShoal(env.shoalBin); err != nil {
			return err
		}
	}
	if out, err := exec.Command(env.shoalBin, env.createArgs()...).CombinedOutput(); err != nil {
		return fmt.Errorf("shoal %s: %v: %s", strings.Join(env.createArgs(), " "), err, out)
	}
	syscall.Sync()
	if env.sourceSHA1, err = fileSHA1(env.source); err != nil {
		return err
	}
	pieceLen, err := torrentPieceLength(env.shoalBin, env.torrent)
	if err != nil {
		return err
	}
	res := swarmResult{Scenario: "swarm", SizeBytes: cfg.Size, RateBytes: cfg.Rate, PieceLength: pieceLen, Method: swarmMethod,
		ShoalFlags: cfg.ShoalFlags}
	res.Machine = pairMachine{NProc: nproc(), CPUModel: cpuModel(), GoVersion: goVersion(),
		LibtorrentVersion: strings.TrimSpace(string(ltVersion)), LoadBefore: loadAvg()}
	if load := res.Machine.LoadBefore; loadAbove(load, 1) {
		fmt.Fprintf(os.Stderr, "bench: warning: the machine is busy (load %s); figures will be noisy\n", load)
	}
	for _, n := range cfg.Ns {
		for ci, client := range cfg.Clients {
			// Each client its own address range, so no connection of one
			// run lingers in the way of the next.
			ips := swarmIPs(2+ci, n)
			var r swarmRun
			if client == "shoal" {
				r, err = env.runShoal(n, ips)
			} else {
				r, err = env.runLibtorrent(n, ips)
			}
			if err != nil {
				return fmt.Errorf("%s swarm with %d leechers: %w", client, n, err)
			}
			env.fillBounds(&r)
			fmt.Fprintf(os.Stderr, "bench: %-5s N=%-3d %7.2f s, bound %6.2f s, ratio %.2f, seeder copies %.2f, CPU %.1f s (load %s)\n",
				client, n, r.Seconds, r.BoundSeconds, r.RatioToBound, r.SeederCopies, r.CPUSeconds, loadAvg())
			res.Runs = append(res.Runs, r)
		}
	}
	res.Machine.LoadAfter = loadAvg()
	res.Date = time.Now().UTC().Format(time.RFC3339)
	res.Commands = env.commands()
	return writeSwarmResult(cfg.OutDir, res)
}

// swarmIPs returns n+1 addresses 127.0.BLOCK.1..n+1: the seeder's first.
func swarmIPs(block, n int) []string {
	ips := make([]string, n+1)
	for i := range ips {
		ips[i] = fmt.Sprintf("127.0.%d.%d", block, i+1)
	}
	return ips
}

func (e *swarmEnv) createArgs() []string {
	args := []string{"create", e.source, "-o", e.torrent, "--no-date"}
	if e.cfg.PieceSize != "auto" {
		args = append(args, "--piece-size", e.cfg.PieceSize)
	}
	return args
}

// torrentPieceLength asks shoal for the torrent's piece length.
func torrentPieceLength(shoalBin, torrent string) (int64, error) {
	out, err := exec.Command(shoalBin, "info", "--json", torrent).Output()
	if err != nil {
		return 0, fmt.Errorf("shoal info --json %s: %w", torrent, err)
	}
	var info struct {
		PieceLength int64 `json:"piece_length"`
	}
	if err := json.Unmarshal(out, &info); err != nil || info.PieceLength <= 0 {
		return 0, fmt.Errorf("shoal info --json %s: no piece_length in %q", torrent, out)
	}
	return info.PieceLength, nil
}

func (e *swarmEnv) fillBounds(r *swarmRun) {
	f, u, n := float64(e.cfg.Size), float64(e.cfg.Rate), float64(r.N)
	r.BoundSeconds = max(f/u, n*f/(u+n*u))
	r.ClientServerSecs = n * f / u
	r.RatioToBound = r.Seconds / r.BoundSeconds
	r.SeederCopies = float64(r.SeederUploaded) / f
}

// checkLeecherFiles compares every leecher's copy with the source.
func (e *swarmEnv) checkLeecherFiles(paths []string) error {
	for i, p := range paths {
		sum, err := fileSHA1(p)
		if err != nil {
			return fmt.Errorf("leecher %d: %w", i+1, err)
		}
		if sum != e.sourceSHA1 {
			return fmt.Errorf("leecher %d: %s has SHA-1 %s, the source %s", i+1, p, sum, e.sourceSHA1)
		}
	}
	return nil
}

// commands lists the command lines of one swarm, for the result.
func (e *swarmEnv) commands() []string {
	rate := strconv.FormatInt(e.cfg.Rate, 10)
	cmds := []string{
		"shoal " + strings.Join(e.createArgs(), " "),
		strings.Join(e.shoalCommand("IP0", 0, filepath.Dir(e.source), "$TMP/data0", nil).Args, " "),
		strings.Join(e.shoalCommand("IPk", 0, "$TMP/leecher-k", "$TMP/data-k",
			[]string{"IP0:PORT0", "IP1:PORT1", "..."}).Args, " ") + "  (for each leecher k, all other peers as --peer)",
		systemPython + " bench/swarm_lt.py swarm " + e.torrent + " " + filepath.Dir(e.source) + " $TMP/lt --ips IP0,IP1,...,IPN --rate " + rate,
	}
	for i, c := range cmds {
		c = strings.ReplaceAll(c, e.shoalBin, "shoal")
		cmds[i] = strings.ReplaceAll(c, e.tmp, "$TMP")
	}
	return cmds
}

func init() {
	scenarios["swarm"] = scenario{
		usage: "swarm [-n 1,5,10,20,40] [-size 64MiB] [-rate 4MiB] [-piece-size auto] [-clients shoal,lt] [-shoal-flags '--cached-writes'] [-out bench/results]",
		run: func(args []string) error {
			fs := flag.NewFlagSet("swarm", flag.ExitOnError)
			ns := fs.String("n", "1,5,10,20,40", "leecher counts to run")
			size := fs.String("size", "64MiB", "size of the file")
			rate := fs.String("rate", "4MiB", "upload cap of every peer, per second")
			piece := fs.String("piece-size", "auto", "piece length given to shoal create (auto: its default)")
			clients := fs.String("clients", "shoal,lt", "implementations to run: shoal, lt (libtorrent)")
			out := fs.String("out", "bench/results", "directory for the JSON and SVG results")
			timeout := fs.Duration("timeout", 0, "longest a swarm may take (default: 4 × the client-server time + 60 s)")
			shoalBin := fs.String("shoal-bin", "", "use this shoal binary instead of building cmd/shoal")
			shoalFlags := fs.String("shoal-flags", "", "extra flags for every shoal get, separated by spaces (e.g. --cached-writes)")
			_ = fs.Parse(args)
			cfg := swarmConfig{PieceSize: *piece, OutDir: *out, Timeout: *timeout, ShoalBin: *shoalBin,
				ShoalFlags: strings.Fields(*shoalFlags)}
			var err error
			if cfg.Size, err = parseSize(*size); err != nil {
				return err
			}
			if cfg.Rate, err = parseSize(*rate); err != nil {
				return err
			}
			for _, part := range strings.Split(*ns, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(part))
				if err != nil || n < 1 || n > 250 {
					return fmt.Errorf("-n %q: %q is not a leecher count from 1 to 250", *ns, part)
				}
				cfg.Ns = append(cfg.Ns, n)
			}
			for _, c := range strings.Split(*clients, ",") {
				c = strings.TrimSpace(c)
				if c != "shoal" && c != "lt" {
					return fmt.Errorf("-clients %q: %q is neither shoal nor lt", *clients, c)
				}
				cfg.Clients = append(cfg.Clients, c)
			}
			return runSwarm(cfg)
		},
	}
}
