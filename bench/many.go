package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"shoal/metainfo"
)

// Scenario "many": one Session holding N small torrents, all seeding and
// idle. Every measurement runs in a child process (this binary re-run as
// the hidden scenario "many-child"), so its RSS is the session's alone:
//
//  1. an empty session gives the baseline RSS;
//  2. "add" adds N torrents whose data is on disk (each is checked) and
//     waits until all seed, then measures RSS and idle CPU, then closes;
//  3. "restore" is a new process that restores every torrent from the
//     resume data the first one left and waits until all seed again.
//
// The restart time is the first process's Close plus the second process's
// wall time from exec until every torrent seeds.

// manyMethod describes how the figures are taken, for the JSON result.
const manyMethod = "Each figure comes from a child process (this bench binary re-run), so RSS is the session's alone. " +
	"RSS is VmRSS from /proc/self/status after all torrents seed, a settle period, runtime.GC and debug.FreeOSMemory " +
	"(what the runtime's scavenger returns to the OS by itself over minutes); per torrent = (RSS with N - RSS of an " +
	"empty session) / N. Idle CPU is user+system time (getrusage) over the idle window, as a percentage of one core. " +
	"Add time runs from the first AddTorrent until every torrent seeds (each torrent's data is hashed). Restart " +
	"time = Session.Close in the first process + the wall time of a new process, from exec until " +
	"Session.RestoreTorrents has brought back every torrent and every one seeds."

// manyConfig holds the scenario's flags.
type manyConfig struct {
	Counts   []int
	FileSize int64
	Idle     time.Duration
	Settle   time.Duration
	OutDir   string
	Keep     string // dataset directory to reuse and keep (empty: a temporary one)
	Profile  string // directory for heap profiles of the add child (empty: none)
}

// manyResult is the JSON written under bench/results.
type manyResult struct {
	Scenario        string       `json:"scenario"`
	Date            string       `json:"date"`
	Method          string       `json:"method"`
	FileSize        int64        `json:"file_size"`
	PieceLength     int64        `json:"piece_length"`
	IdleSeconds     float64      `json:"idle_seconds"`
	SettleSeconds   float64      `json:"settle_seconds"`
	Machine         pairMachine  `json:"machine"`
	EmptyRSSBytes   int64        `json:"empty_session_rss_bytes"`
	EmptyGoroutines int          `json:"empty_session_goroutines"`
	Runs            []manyRun    `json:"runs"`
	Targets         manyTargets  `json:"targets"`
	Commands        []string     `json:"commands"`
	Children        []childStats `json:"children"`
}

// manyTargets are issue 4's targets for this scenario.
type manyTargets struct {
	KiBPerTorrent  float64 `json:"kib_per_torrent_max"`
	RestartSeconds float64 `json:"restart_seconds_max_at_10000"`
	IdleCPUPercent float64 `json:"idle_cpu_percent_max"`
}

// manyRun is the summary for one torrent count.
type manyRun struct {
	Torrents              int     `json:"torrents"`
	AddSeconds            float64 `json:"add_seconds"`
	KiBPerTorrent         float64 `json:"kib_per_torrent"`
	KiBPerTorrentRestored float64 `json:"kib_per_torrent_after_restore"`
	IdleCPUPercent        float64 `json:"idle_cpu_percent"`
	IdleCPUPercentRestore float64 `json:"idle_cpu_percent_after_restore"`
	GoroutinesPerTorrent  float64 `json:"goroutines_per_torrent"`
	OpenFilesPerTorrent   float64 `json:"open_files_per_torrent"`
	CloseSeconds          float64 `json:"close_seconds"`
	RestoreSeconds        float64 `json:"restore_process_seconds"`
	RestartSeconds        float64 `json:"restart_seconds"`
	RehashedPieces        int     `json:"pieces_rehashed_on_restart"`
}

var manyTargetValues = manyTargets{KiBPerTorrent: 10, RestartSeconds: 10, IdleCPUPercent: 2}

func init() {
	scenarios["many"] = scenario{
		usage: "many [-counts 1000,10000] [-file-size 32KiB] [-idle 20s] [-settle 5s] [-keep DIR] [-profile DIR] [-out bench/results]",
		run: func(args []string) error {
			fs := flag.NewFlagSet("many", flag.ExitOnError)
			counts := fs.String("counts", "1000,10000", "torrent counts to measure, comma-separated")
			size := fs.String("file-size", "32KiB", "size of each torrent's single file (16 KiB pieces)")
			idle := fs.Duration("idle", 20*time.Second, "idle window over which CPU is measured")
			settle := fs.Duration("settle", 5*time.Second, "wait after every torrent seeds before measuring")
			keep := fs.String("keep", "", "dataset directory to create or reuse, and keep (default: a temporary one)")
			profile := fs.String("profile", "", "directory for heap profiles and goroutine dumps of each child")
			out := fs.String("out", "bench/results", "directory for the JSON and SVG results")
			_ = fs.Parse(args)
			cfg := manyConfig{Idle: *idle, Settle: *settle, OutDir: *out, Keep: *keep, Profile: *profile}
			for _, c := range strings.Split(*counts, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(c))
				if err != nil || n < 1 {
					return fmt.Errorf("-counts: %q is not a positive number", c)
				}
				cfg.Counts = append(cfg.Counts, n)
			}
			n, err := parseSize(*size)
			if err != nil {
				return err
			}
			if n > 1<<20 {
				return fmt.Errorf("-file-size %s: at most 1 MiB (the scenario is about many small torrents)", *size)
			}
			cfg.FileSize = n
			return runMany(cfg)
		},
	}
}

func runMany(cfg manyConfig) error {
	maxN := 0
	for _, n := range cfg.Counts {
		maxN = max(maxN, n)
	}
	dir := cfg.Keep
	if dir == "" {
		tmp, err := os.MkdirTemp("", "shoal-bench-many-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	if err := makeManyDataset(dir, maxN, cfg.FileSize); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the bench binary to re-run: %w", err)
	}
	res := manyResult{
		Scenario: "many", Method: manyMethod, FileSize: cfg.FileSize, PieceLength: manyPieceLength,
		IdleSeconds: cfg.Idle.Seconds(), SettleSeconds: cfg.Settle.Seconds(), Targets: manyTargetValues,
	}
	res.Machine = pairMachine{NProc: nproc(), CPUModel: cpuModel(), GoVersion: goVersion(), LoadBefore: loadAvg()}
	if loadAbove(res.Machine.LoadBefore, 1) {
		fmt.Fprintf(os.Stderr, "bench: warning: the machine is busy (load %s); idle CPU will be noisy\n", res.Machine.LoadBefore)
	}
	child := func(mode string, n int, state string) (childStats, error) {
		args := []string{"many-child", "-mode", mode, "-n", strconv.Itoa(n), "-dir", dir, "-state", state,
			"-idle", cfg.Idle.String(), "-settle", cfg.Settle.String()}
		if cfg.Profile != "" {
			args = append(args, "-profile", filepath.Join(cfg.Profile, fmt.Sprintf("%s-%d", mode, n)))
		}
		res.Commands = append(res.Commands, "bench "+strings.Join(args, " "))
		fmt.Fprintf(os.Stderr, "bench: many: %s %d torrents\n", mode, n)
		st, err := runManyChild(exec.Command(self, args...))
		if err == nil {
			res.Children = append(res.Children, st)
		}
		return st, err
	}
	empty, err := child("empty", 0, filepath.Join(dir, "state-empty"))
	if err != nil {
		return err
	}
	res.EmptyRSSBytes, res.EmptyGoroutines = empty.RSSBytes, empty.Goroutines
	for _, n := range cfg.Counts {
		state := filepath.Join(dir, fmt.Sprintf("state-%d", n))
		if err := os.RemoveAll(state); err != nil {
			return err
		}
		add, err := child("add", n, state)
		if err != nil {
			return err
		}
		restore, err := child("restore", n, state)
		if err != nil {
			return err
		}
		if restore.Torrents != n || restore.HashesDigest != add.HashesDigest {
			return fmt.Errorf("restart with %d torrents brought back %d torrents (info hash digest %s, want %s)",
				n, restore.Torrents, restore.HashesDigest, add.HashesDigest)
		}
		run := manyRun{
			Torrents:              n,
			AddSeconds:            add.ReadySeconds,
			KiBPerTorrent:         perTorrentKiB(add.RSSBytes, empty.RSSBytes, n),
			KiBPerTorrentRestored: perTorrentKiB(restore.RSSBytes, empty.RSSBytes, n),
			IdleCPUPercent:        add.IdleCPUPercent,
			IdleCPUPercentRestore: restore.IdleCPUPercent,
			GoroutinesPerTorrent:  float64(add.Goroutines-empty.Goroutines) / float64(n),
			OpenFilesPerTorrent:   float64(add.OpenFiles-empty.OpenFiles) / float64(n),
			CloseSeconds:          add.CloseSeconds,
			RestoreSeconds:        restore.WallReadySeconds,
			RestartSeconds:        add.CloseSeconds + restore.WallReadySeconds,
			RehashedPieces:        restore.CheckedPieces,
		}
		res.Runs = append(res.Runs, run)
		fmt.Fprintf(os.Stderr, "bench: many %d: add %.2f s, %.2f KiB/torrent (%.2f after restore), idle CPU %.2f %% (%.2f %%), "+
			"%.2f goroutines and %.2f open files per torrent, restart %.2f s (close %.2f + restore %.2f), %d pieces rehashed\n",
			n, run.AddSeconds, run.KiBPerTorrent, run.KiBPerTorrentRestored, run.IdleCPUPercent, run.IdleCPUPercentRestore,
			run.GoroutinesPerTorrent, run.OpenFilesPerTorrent, run.RestartSeconds, run.CloseSeconds, run.RestoreSeconds,
			run.RehashedPieces)
	}
	res.Machine.LoadAfter = loadAvg()
	res.Date = time.Now().UTC().Format(time.RFC3339)
	return writeManyResult(cfg.OutDir, res)
}

func perTorrentKiB(rss, empty int64, n int) float64 {
	return float64(rss-empty) / 1024 / float64(n)
}

// manyPieceLength is the piece length of the scenario's torrents.
const manyPieceLength = 16 << 10

// makeManyDataset writes n files of size bytes under dir/data and a
// .torrent for each under dir/torrents, reusing those already there.
func makeManyDataset(dir string, n int, size int64) error {
	dataDir, torrentDir := filepath.Join(dir, "data"), filepath.Join(dir, "torrents")
	for _, d := range []string{dataDir, torrentDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	start, made := time.Now(), 0
	buf := make([]byte, size)
	for i := range n {
		name := manyName(i)
		tpath := filepath.Join(torrentDir, name+".torrent")
		if fi, err := os.Stat(filepath.Join(dataDir, name)); err == nil && fi.Size() == size {
			if _, err := os.Stat(tpath); err == nil {
				continue
			}
		}
		// Distinct content per file, so every torrent has its own info hash
		// and pieces.
		for j := 0; j < len(buf); j += 8 {
			v := uint64(i)<<32 | uint64(j)
			for k := 0; k < 8 && j+k < len(buf); k++ {
				buf[j+k] = byte(v >> (8 * k))
			}
		}
		dpath := filepath.Join(dataDir, name)
		if err := os.WriteFile(dpath, buf, 0o644); err != nil {
			return err
		}
		mi, err := metainfo.Build(context.Background(), dpath, metainfo.BuildOptions{PieceLength: manyPieceLength, Workers: 1})
		if err != nil {
			return fmt.Errorf("building torrent %d: %w", i, err)
		}
		data, err := mi.Marshal()
		if err != nil {
			return err
		}
		if err := os.WriteFile(tpath, data, 0o644); err != nil {
			return err
		}
		made++
	}
	if made > 0 {
		fmt.Fprintf(os.Stderr, "bench: many: made %d files and torrents in %.1f s\n", made, time.Since(start).Seconds())
	}
	return nil
}

func manyName(i int) string { return fmt.Sprintf("%06d.bin", i) }

// runManyChild runs one child and returns what it reported. The wall time
// until every torrent seeds is taken here, from just before exec.
func runManyChild(cmd *exec.Cmd) (childStats, error) {
	p, err := startProc(cmd)
	if err != nil {
		return childStats{}, err
	}
	ready, err := p.waitLine(30*time.Minute, func(s string) bool { return s == manyReadyLine })
	if err != nil {
		p.kill()
		return childStats{}, err
	}
	line, err := p.waitLine(30*time.Minute, func(s string) bool { return strings.HasPrefix(s, manyResultPrefix) })
	if err != nil {
		p.kill()
		return childStats{}, err
	}
	if err := p.wait(time.Minute); err != nil {
		return childStats{}, fmt.Errorf("%s: %w\n%s", p.name(), err, p.tail.last())
	}
	var st childStats
	if err := json.Unmarshal([]byte(strings.TrimPrefix(line.text, manyResultPrefix)), &st); err != nil {
		return childStats{}, fmt.Errorf("%s: bad result line %q: %w", p.name(), line.text, err)
	}
	st.WallReadySeconds = ready.at.Sub(p.start).Seconds()
	if st.Failure != "" {
		return childStats{}, errors.New(st.Failure)
	}
	return st, nil
}

func writeManyResult(dir string, res manyResult) error {
	base, err := writeResultJSON(dir, "many", res)
	if err != nil {
		return err
	}
	if err := writeManyChart(base+".svg", res); err != nil {
		return err
	}
	fmt.Printf("many: idle seeding torrents of %s in one session, %d CPUs (%s); load %s → %s; empty session RSS %.1f MiB\n",
		humanBytes(res.FileSize), res.Machine.NProc, res.Machine.CPUModel, res.Machine.LoadBefore, res.Machine.LoadAfter,
		mib(res.EmptyRSSBytes))
	fmt.Printf("%9s %8s %10s %14s %10s %12s %10s %10s %10s %9s\n", "torrents", "add s", "KiB/torr", "KiB/torr rest",
		"idle CPU%", "goroutines/t", "fds/t", "close s", "restore s", "restart s")
	for _, r := range res.Runs {
		fmt.Printf("%9d %8.2f %10.2f %14.2f %10.2f %12.2f %10.2f %10.2f %10.2f %9.2f\n", r.Torrents, r.AddSeconds,
			r.KiBPerTorrent, r.KiBPerTorrentRestored, r.IdleCPUPercent, r.GoroutinesPerTorrent, r.OpenFilesPerTorrent,
			r.CloseSeconds, r.RestoreSeconds, r.RestartSeconds)
	}
	fmt.Printf("targets: ≤ %.0f KiB per torrent, restart of 10,000 < %.0f s, idle CPU < %.0f %% of one core\n",
		res.Targets.KiBPerTorrent, res.Targets.RestartSeconds, res.Targets.IdleCPUPercent)
	fmt.Printf("Results: %s.json, %s.svg\n", base, base)
	return nil
}
