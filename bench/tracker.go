package main

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
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

// trackerConfig holds the parameters of the "tracker" scenario.
type trackerConfig struct {
	Hashes   int           // swarms
	Peers    int           // distinct peers over all swarms
	Duration time.Duration // length of each timed phase
	Workers  int           // UDP sockets of the load generator
	Depth    int           // UDP announces in flight per socket
	HTTPConn int           // concurrent HTTP clients
	Rounds   int           // timed phases per tracker and protocol
	OutDir   string
}

// trackerTarget is one tracker's results.
type trackerTarget struct {
	Fill               loadStats   `json:"fill"` // first announce of every peer, over UDP
	UDP                loadStats   `json:"udp"`
	HTTP               loadStats   `json:"http"`
	UDPRounds          []loadStats `json:"udp_rounds"` // UDP and HTTP are the median rounds of these
	HTTPRounds         []loadStats `json:"http_rounds"`
	RSSBeforeBytes     int64       `json:"rss_before_bytes"`
	RSSAfterBytes      int64       `json:"rss_after_fill_bytes"`
	BytesPerPeer       float64     `json:"bytes_per_peer"`
	MiBPerMillionPeers float64     `json:"mib_per_million_peers"`
	CPUSeconds         float64     `json:"cpu_seconds"`
}

// trackerResult is the JSON written for one "tracker" benchmark.
type trackerResult struct {
	Scenario    string        `json:"scenario"`
	Date        string        `json:"date"`
	Machine     pairMachine   `json:"machine"`
	LoadAvg     string        `json:"loadavg_before"`
	Hashes      int           `json:"hashes"`
	Peers       int           `json:"peers"`
	Duration    float64       `json:"phase_seconds"`
	Rounds      int           `json:"rounds"`
	Workers     int           `json:"udp_sockets"`
	Depth       int           `json:"udp_in_flight_per_socket"`
	HTTPConns   int           `json:"http_clients"`
	Shoal       trackerTarget `json:"shoal"`
	Opentracker trackerTarget `json:"opentracker"`
	UDPRatio    float64       `json:"udp_ratio"`  // shoal / opentracker announces per second
	HTTPRatio   float64       `json:"http_ratio"` // same, HTTP
	Commands    []string      `json:"commands"`
	Notes       []string      `json:"notes"`
}

func init() {
	scenarios["tracker"] = scenario{
		usage: "tracker [-hashes 10000] [-peers 1000000] [-duration 3s] [-workers 8] [-depth 16] [-http-conns 16] [-rounds 7] [-out bench/results]",
		run: func(args []string) error {
			fs := flag.NewFlagSet("tracker", flag.ContinueOnError)
			cfg := trackerConfig{}
			fs.IntVar(&cfg.Hashes, "hashes", 10000, "info hashes (swarms)")
			fs.IntVar(&cfg.Peers, "peers", 1000000, "distinct peers announced into the swarms")
			fs.DurationVar(&cfg.Duration, "duration", 3*time.Second, "length of each timed phase")
			fs.IntVar(&cfg.Workers, "workers", 8, "UDP sockets of the load generator")
			fs.IntVar(&cfg.Depth, "depth", 16, "UDP announces in flight per socket")
			fs.IntVar(&cfg.HTTPConn, "http-conns", 16, "concurrent HTTP clients")
			fs.IntVar(&cfg.Rounds, "rounds", 7, "alternating timed phases per tracker and protocol")
			fs.StringVar(&cfg.OutDir, "out", "bench/results", "directory for results")
			if err := fs.Parse(args); err != nil {
				return err
			}
			if cfg.Rounds < 1 {
				return fmt.Errorf("-rounds must be at least 1")
			}
			if cfg.Hashes < 1 || cfg.Peers < cfg.Hashes || cfg.Peers/cfg.Hashes > 60000 {
				return fmt.Errorf("need 1 <= hashes <= peers and at most 60000 peers per hash")
			}
			return runTracker(cfg)
		},
	}
}

func runTracker(cfg trackerConfig) error {
	ot, err := exec.LookPath("opentracker")
	if err != nil {
		ot = "/usr/bin/opentracker"
		if _, serr := os.Stat(ot); serr != nil {
			return fmt.Errorf("opentracker is not installed (apt-get install opentracker): %w", err)
		}
	}
	tmp, err := os.MkdirTemp("", "shoal-bench-tracker-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// opentracker drops root for nobody after chrooting here: it must be
	// able to read the whitelist.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	shoalBin := filepath.Join(tmp, "shoal")
	if err := buildShoal(shoalBin); err != nil {
		return err
	}
	spec := loadSpec{hashes: cfg.Hashes, peers: cfg.Peers, seed: uint64(time.Now().UnixNano())}
	// Both trackers get the same allow-list: opentracker's Debian build
	// runs in whitelist mode and refuses every unlisted hash.
	var wl bytes.Buffer
	for h := range cfg.Hashes {
		fmt.Fprintf(&wl, "%x\n", spec.infoHash(h))
	}
	whitelist := filepath.Join(tmp, "whitelist.txt")
	if err := os.WriteFile(whitelist, wl.Bytes(), 0o644); err != nil {
		return err
	}
	conf := filepath.Join(tmp, "opentracker.conf")
	// opentracker chroots into -d, so the whitelist path is inside it.
	if err := os.WriteFile(conf, []byte("access.whitelist /whitelist.txt\n"), 0o644); err != nil {
		return err
	}
	res := trackerResult{
		Scenario: "tracker", Date: time.Now().UTC().Format(time.RFC3339), LoadAvg: loadAvg(),
		Machine: pairMachine{NProc: nproc(), CPUModel: cpuModel(), GoVersion: goVersion()},
		Hashes:  cfg.Hashes, Peers: cfg.Peers, Duration: cfg.Duration.Seconds(), Rounds: cfg.Rounds,
		Workers: cfg.Workers, Depth: cfg.Depth, HTTPConns: cfg.HTTPConn,
	}
	shoalPort, err := freePort("127.0.0.1")
	if err != nil {
		return err
	}
	otPort, err := freePort("127.0.0.1")
	if err != nil {
		return err
	}
	shoalAddr := fmt.Sprintf("127.0.0.1:%d", shoalPort)
	otAddr := fmt.Sprintf("127.0.0.1:%d", otPort)
	shoalCmd := exec.Command(shoalBin, "tracker", "--http", shoalAddr, "--udp", shoalAddr, "--interval", "30m", "--allow", whitelist)
	otCmd := exec.Command(ot, "-f", conf, "-i", "127.0.0.1", "-p", strconv.Itoa(otPort), "-P", strconv.Itoa(otPort), "-d", tmp)
	res.Commands = []string{strings.Join(shoalCmd.Args, " "), strings.Join(otCmd.Args, " ")}
	res.Notes = []string{
		"the load generator shares the machine's cores with the tracker under test",
		"HTTP: opentracker closes the connection after each answer, Shoal keeps it open (keep-alive), so the HTTP ratio includes TCP connection setup on opentracker's side",
		"memory is the RSS growth while every peer announced once, divided by the peers stored",
	}

	ot1, err := startAndFill("opentracker", otCmd, otAddr, spec, cfg)
	if err != nil {
		return err
	}
	defer ot1.p.kill()
	sh1, err := startAndFill("shoal", shoalCmd, shoalAddr, spec, cfg)
	if err != nil {
		return err
	}
	defer sh1.p.kill()
	if err := measureRounds([]*runningTracker{sh1, ot1}, spec, cfg); err != nil {
		return err
	}
	if err := sh1.p.stop(); err != nil {
		return err
	}
	ot1.p.kill()
	sh1.res.CPUSeconds, _ = sh1.p.usage()
	ot1.res.CPUSeconds, _ = ot1.p.usage()
	res.Shoal, res.Opentracker = sh1.res, ot1.res
	res.UDPRatio = res.Shoal.UDP.PerSecond / res.Opentracker.UDP.PerSecond
	res.HTTPRatio = res.Shoal.HTTP.PerSecond / res.Opentracker.HTTP.PerSecond
	return writeTrackerResult(cfg.OutDir, res)
}

// runningTracker is one tracker process under test.
type runningTracker struct {
	name string
	addr string
	p    *proc
	res  trackerTarget
}

// startAndFill starts one tracker, announces every peer once, checks its
// counts and measures its memory.
func startAndFill(name string, cmd *exec.Cmd, addr string, spec loadSpec, cfg trackerConfig) (*runningTracker, error) {
	p, err := startProc(cmd)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	rt := &runningTracker{name: name, addr: addr, p: p}
	t := &rt.res
	if err := waitUDPTracker(addr, spec, p); err != nil {
		p.kill()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	pid := cmd.Process.Pid
	if t.RSSBeforeBytes, err = procRSS(pid); err != nil {
		p.kill()
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "bench: %s: announcing %d peers into %d swarms\n", name, spec.peers, spec.hashes)
	if t.Fill, err = udpLoad(addr, spec, cfg.Workers, cfg.Depth, sequence(spec.peers), 0); err == nil && t.Fill.Errors > 0 {
		err = fmt.Errorf("%s: %d of %d announces failed while filling: %s", name, t.Fill.Errors, spec.peers, t.Fill.FirstErrorMsg)
	}
	if err == nil {
		err = checkSwarmCounts(name, addr, spec)
	}
	if err == nil {
		t.RSSAfterBytes, err = procRSS(pid)
	}
	if err != nil {
		p.kill()
		return nil, err
	}
	t.BytesPerPeer = float64(t.RSSAfterBytes-t.RSSBeforeBytes) / float64(spec.peers)
	t.MiBPerMillionPeers = t.BytesPerPeer * 1e6 / (1 << 20)
	return rt, nil
}

// measureRounds times UDP and then HTTP re-announces against each tracker
// in turn, alternating which goes first, for cfg.Rounds rounds; the other
// helpers' load on the shared cores changes from minute to minute, and
// alternating short phases exposes both trackers to the same changes. Each
// tracker's figures are the round with its median rate.
func measureRounds(targets []*runningTracker, spec loadSpec, cfg trackerConfig) error {
	udpRuns := make([][]loadStats, len(targets))
	httpRuns := make([][]loadStats, len(targets))
	for round := range cfg.Rounds {
		for k := range targets {
			i := (k + round) % len(targets)
			rt := targets[i]
			fmt.Fprintf(os.Stderr, "bench: round %d: %s: UDP re-announces for %v\n", round+1, rt.name, cfg.Duration)
			st, err := udpLoad(rt.addr, spec, cfg.Workers, cfg.Depth, forDuration(spec.peers, cfg.Duration), 50)
			if err != nil {
				return err
			}
			if st.Requests == 0 || st.Errors*100 > st.Requests {
				return fmt.Errorf("%s: UDP phase: %d answers, %d errors (%s)", rt.name, st.Requests, st.Errors, st.FirstErrorMsg)
			}
			if st.AnswersPeers < st.Requests {
				return fmt.Errorf("%s: UDP answers held %d peers over %d announces: the swarms look empty", rt.name, st.AnswersPeers, st.Requests)
			}
			udpRuns[i] = append(udpRuns[i], st)
		}
		for k := range targets {
			i := (k + round) % len(targets)
			rt := targets[i]
			fmt.Fprintf(os.Stderr, "bench: round %d: %s: HTTP re-announces for %v\n", round+1, rt.name, cfg.Duration)
			st, err := httpLoad("http://"+rt.addr, spec, cfg.HTTPConn, forDuration(spec.peers, cfg.Duration))
			if err != nil {
				return err
			}
			if st.Requests == 0 || st.Errors*100 > st.Requests {
				return fmt.Errorf("%s: HTTP phase: %d answers, %d errors (%s)", rt.name, st.Requests, st.Errors, st.FirstErrorMsg)
			}
			httpRuns[i] = append(httpRuns[i], st)
		}
	}
	for i, rt := range targets {
		rt.res.UDP, rt.res.UDPRounds = medianRound(udpRuns[i]), udpRuns[i]
		rt.res.HTTP, rt.res.HTTPRounds = medianRound(httpRuns[i]), httpRuns[i]
		fmt.Fprintf(os.Stderr, "bench: %s: UDP %.0f/s (p99 %.2f ms), HTTP %.0f/s (p99 %.2f ms), %.1f bytes per peer\n",
			rt.name, rt.res.UDP.PerSecond, rt.res.UDP.P99Millis, rt.res.HTTP.PerSecond, rt.res.HTTP.P99Millis, rt.res.BytesPerPeer)
	}
	return nil
}

// medianRound returns the run with the median rate.
func medianRound(runs []loadStats) loadStats {
	sorted := slices.Clone(runs)
	slices.SortFunc(sorted, func(a, b loadStats) int { return cmp.Compare(a.PerSecond, b.PerSecond) })
	return sorted[len(sorted)/2]
}

// waitUDPTracker polls until the tracker answers an announce (event
// "stopped", which leaves no peer behind) for an allowed hash in full:
// opentracker loads its whitelist in the background after it starts
// answering, and until then sends an empty 8-byte answer.
func waitUDPTracker(addr string, spec loadSpec, p *proc) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("exited before answering (%v): %s", p.err, p.tail.last())
		default:
		}
		c, err := newUDPClient(addr)
		if err != nil {
			return err
		}
		c.timeout = 200 * time.Millisecond
		if err = c.connect(); err == nil {
			probe := c.announcePacket(spec, 0, 42, 0)
			binary.BigEndian.PutUint32(probe[80:], 3) // stopped
			c.conn.Write(probe)
			c.conn.SetReadDeadline(time.Now().Add(c.timeout))
			if n, err := c.conn.Read(c.buf); err == nil && n >= 20 && binary.BigEndian.Uint32(c.buf) == 1 {
				c.conn.Close()
				return nil
			}
		}
		c.conn.Close()
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("no full answer to a UDP announce within 15 s")
}

// checkSwarmCounts scrapes a few swarms and compares them with what was
// announced: a tracker that drops peers must not look fast.
func checkSwarmCounts(name, addr string, spec loadSpec) error {
	for _, h := range []int{0, spec.hashes / 2, spec.hashes - 1} {
		wantSeeders, wantLeechers := 0, 0
		for i := h; i < spec.peers; i += spec.hashes {
			if spec.left(i) == 0 {
				wantSeeders++
			} else {
				wantLeechers++
			}
		}
		s, l, err := udpScrape(addr, spec.infoHash(h))
		if err != nil {
			return fmt.Errorf("%s: scraping swarm %d: %w", name, h, err)
		}
		if s != wantSeeders || l != wantLeechers {
			return fmt.Errorf("%s: swarm %d has %d seeders and %d leechers, want %d and %d", name, h, s, l, wantSeeders, wantLeechers)
		}
	}
	return nil
}

// procRSS reads a process's resident set size.
func procRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(data) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := strings.Fields(string(rest))
			if len(f) == 2 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

func writeTrackerResult(dir string, res trackerResult) error {
	base, err := writeResultJSON(dir, "tracker", res)
	if err != nil {
		return err
	}
	if err := writeBarChart(base+".svg", fmt.Sprintf("Tracker announces per second (%d peers, %d swarms; UDP ratio %.2f)", res.Peers, res.Hashes, res.UDPRatio), "/s", []bar{
		{"shoal UDP", res.Shoal.UDP.PerSecond},
		{"opentracker UDP", res.Opentracker.UDP.PerSecond},
		{"shoal HTTP", res.Shoal.HTTP.PerSecond},
		{"opentracker HTTP", res.Opentracker.HTTP.PerSecond},
	}); err != nil {
		return err
	}
	fmt.Printf("tracker: %d peers in %d swarms, load before %s\n", res.Peers, res.Hashes, res.LoadAvg)
	fmt.Printf("  %-12s %10s %8s %10s %8s %12s\n", "", "UDP/s", "p99 ms", "HTTP/s", "p99 ms", "MiB/M peers")
	for _, r := range []struct {
		name string
		t    trackerTarget
	}{{"shoal", res.Shoal}, {"opentracker", res.Opentracker}} {
		fmt.Printf("  %-12s %10.0f %8.2f %10.0f %8.2f %12.1f\n", r.name, r.t.UDP.PerSecond, r.t.UDP.P99Millis, r.t.HTTP.PerSecond, r.t.HTTP.P99Millis, r.t.MiBPerMillionPeers)
	}
	fmt.Printf("  UDP ratio shoal/opentracker %.2f, HTTP ratio %.2f\n  results: %s.json, %s.svg\n", res.UDPRatio, res.HTTPRatio, base, base)
	return nil
}
