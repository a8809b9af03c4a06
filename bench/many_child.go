package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"shoal/engine"
	"shoal/metainfo"
)

// Lines the child prints for the parent: manyReadyLine once every torrent
// seeds (the parent timestamps it), then one result line.
const (
	manyReadyLine    = "MANY-READY"
	manyResultPrefix = "MANY-RESULT "
)

// childStats is what one child process measured.
type childStats struct {
	Mode             string  `json:"mode"`
	Torrents         int     `json:"torrents"`
	LoadSeconds      float64 `json:"load_torrents_seconds,omitempty"`
	ReadySeconds     float64 `json:"ready_seconds"`      // first add/restore call until all seed
	WallReadySeconds float64 `json:"wall_ready_seconds"` // exec until all seed (set by the parent)
	RSSBytes         int64   `json:"rss_bytes"`
	RSSAnonBytes     int64   `json:"rss_anon_bytes"` // of RSSBytes: anonymous memory (heap, stacks)
	RSSFileBytes     int64   `json:"rss_file_bytes"` // of RSSBytes: mapped files (binary, resume database)
	HeapInuseBytes   uint64  `json:"heap_inuse_bytes"`
	StackInuseBytes  uint64  `json:"stack_inuse_bytes"`
	Goroutines       int     `json:"goroutines"`
	OpenFiles        int     `json:"open_files"`
	IdleCPUPercent   float64 `json:"idle_cpu_percent"`
	CloseSeconds     float64 `json:"close_seconds"`
	CheckedPieces    int     `json:"checked_pieces"` // pieces hashed at start over all torrents
	HashesDigest     string  `json:"info_hashes_digest,omitempty"`
	Failure          string  `json:"failure,omitempty"`
}

func init() {
	scenarios["many-child"] = scenario{
		usage: "many-child (internal: one measuring process of scenario many)",
		run:   runManyChildScenario,
	}
}

func runManyChildScenario(args []string) error {
	fs := flag.NewFlagSet("many-child", flag.ExitOnError)
	mode := fs.String("mode", "", "empty, add or restore")
	n := fs.Int("n", 0, "number of torrents")
	dir := fs.String("dir", "", "dataset directory (data/ and torrents/)")
	state := fs.String("state", "", "the session's data directory (resume store)")
	idle := fs.Duration("idle", 20*time.Second, "idle CPU window")
	settle := fs.Duration("settle", 5*time.Second, "settle time before measuring")
	profile := fs.String("profile", "", "path prefix for a heap profile and goroutine dump")
	_ = fs.Parse(args)
	st, err := manyChild(*mode, *n, *dir, *state, *idle, *settle, *profile)
	if err != nil {
		// The parent needs the line to know why; print it, then fail.
		st.Failure = err.Error()
	}
	data, _ := json.Marshal(st)
	if st.Failure != "" {
		fmt.Println(manyReadyLine)
	}
	fmt.Println(manyResultPrefix + string(data))
	return err
}

func manyChild(mode string, n int, dir, state string, idle, settle time.Duration, profile string) (childStats, error) {
	st := childStats{Mode: mode}
	if profile != "" {
		// Sample every allocation of a torrent's size, so the heap
		// profile accounts for the per-torrent structures exactly.
		runtime.MemProfileRate = 64
	}
	sess, err := engine.NewSession(engine.Config{DataDir: state, NoListen: true})
	if err != nil {
		return st, err
	}
	defer sess.Close()
	var torrents []*engine.Torrent
	start := time.Now()
	switch mode {
	case "empty":
	case "add":
		mis := make([]*metainfo.MetaInfo, n)
		for i := range n {
			if mis[i], err = metainfo.Load(filepath.Join(dir, "torrents", manyName(i)+".torrent")); err != nil {
				return st, err
			}
		}
		st.LoadSeconds = time.Since(start).Seconds()
		start = time.Now()
		for _, mi := range mis {
			t, err := sess.AddTorrent(mi, engine.AddOptions{SavePath: filepath.Join(dir, "data")})
			if err != nil {
				return st, err
			}
			torrents = append(torrents, t)
		}
	case "restore":
		if torrents, err = sess.RestoreTorrents(); err != nil {
			return st, err
		}
		if len(torrents) != n {
			return st, fmt.Errorf("restored %d torrents from %s, want %d", len(torrents), state, n)
		}
	default:
		return st, fmt.Errorf("many-child: unknown mode %q", mode)
	}
	if err := waitAllSeeding(torrents, 20*time.Minute); err != nil {
		return st, err
	}
	st.ReadySeconds = time.Since(start).Seconds()
	fmt.Println(manyReadyLine)
	st.Torrents = len(torrents)
	hashes := make([]string, len(torrents))
	for i, t := range torrents {
		hashes[i] = t.InfoHash().String()
		s := t.Stats()
		if s.State != engine.StateSeeding {
			return st, fmt.Errorf("torrent %s (%s) is %s, not seeding (err %v)", t.Name(), t.InfoHash(), s.State, s.Err)
		}
		st.CheckedPieces += s.CheckedPieces
	}
	slices.Sort(hashes)
	sum := sha1.Sum([]byte(strings.Join(hashes, "")))
	st.HashesDigest = hex.EncodeToString(sum[:])

	time.Sleep(settle)
	runtime.GC()
	debug.FreeOSMemory()
	rss, err := procStatus("VmRSS", "RssAnon", "RssFile")
	if err != nil {
		return st, err
	}
	st.RSSBytes, st.RSSAnonBytes, st.RSSFileBytes = rss[0], rss[1], rss[2]
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st.HeapInuseBytes, st.StackInuseBytes = ms.HeapInuse, ms.StackInuse
	st.Goroutines = runtime.NumGoroutine()
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		st.OpenFiles = len(fds)
	}
	if profile != "" {
		if err := writeProfiles(profile); err != nil {
			return st, err
		}
	}
	if mode != "empty" {
		cpu0 := rusageCPU()
		t0 := time.Now()
		time.Sleep(idle)
		st.IdleCPUPercent = 100 * (rusageCPU() - cpu0) / time.Since(t0).Seconds()
	}
	c0 := time.Now()
	if err := sess.Close(); err != nil {
		return st, err
	}
	st.CloseSeconds = time.Since(c0).Seconds()
	return st, nil
}

// waitAllSeeding waits until every torrent has all its pieces, failing on
// the first one that stops with an error or when timeout passes.
func waitAllSeeding(torrents []*engine.Torrent, timeout time.Duration) error {
	deadline := time.After(timeout)
	for _, t := range torrents {
		for done := false; !done; {
			select {
			case <-t.Complete():
				done = true
			case <-deadline:
				s := t.Stats()
				return fmt.Errorf("torrent %s is %s after %s, not seeding (%d of %d pieces, err %v)",
					t.Name(), s.State, timeout, s.PiecesHave, s.Pieces, s.Err)
			case <-time.After(time.Second):
				if s := t.Stats(); s.State == engine.StateError || s.State == engine.StateStopped {
					return fmt.Errorf("torrent %s is %s, not seeding (err %v)", t.Name(), s.State, s.Err)
				}
			}
		}
	}
	return nil
}

// procStatus reads sizes in bytes from /proc/self/status lines such as
// "VmRSS:  1234 kB", in the order of keys.
func procStatus(keys ...string) ([]int64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(keys))
	for i, key := range keys {
		found := false
		for line := range bytes.Lines(data) {
			rest, ok := bytes.CutPrefix(line, []byte(key+":"))
			if !ok {
				continue
			}
			f := strings.Fields(string(rest))
			if len(f) != 2 || f[1] != "kB" {
				return nil, fmt.Errorf("/proc/self/status: unexpected line %q", line)
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("/proc/self/status: %q: %w", line, err)
			}
			out[i], found = kb<<10, true
		}
		if !found {
			return nil, fmt.Errorf("/proc/self/status: no %s line", key)
		}
	}
	return out, nil
}

// rusageCPU returns this process's user + system CPU seconds.
func rusageCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// writeProfiles writes a heap profile and a goroutine dump for pprof.
func writeProfiles(prefix string) error {
	if err := os.MkdirAll(filepath.Dir(prefix), 0o755); err != nil {
		return err
	}
	for _, p := range []struct{ name, file string }{{"heap", ".heap.pprof"}, {"goroutine", ".goroutines.pprof"}} {
		f, err := os.Create(prefix + p.file)
		if err != nil {
			return err
		}
		err = pprof.Lookup(p.name).WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
