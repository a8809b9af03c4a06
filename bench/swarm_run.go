package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// swarmStatus is what the benchmark reads from a shoal get --json line.
type swarmStatus struct {
	State      string `json:"state"`
	Pieces     int    `json:"pieces"`
	PiecesHave int    `json:"pieces_have"`
	Uploaded   int64  `json:"uploaded"`
	Error      string `json:"error"`
}

// swarmTracker follows every process of one swarm through its output.
type swarmTracker struct {
	mu       sync.Mutex
	changed  chan struct{} // poked on every line
	finish   []time.Time   // per peer (0 = seeder): when it first had every piece
	uploaded []int64       // per peer: the last uploaded counter seen
	lastAt   []time.Time   // per peer: when that counter was read
	trace    *os.File      // every status line, if $SHOAL_BENCH_TRACE names a file
}

func newSwarmTracker(peers int) *swarmTracker {
	return &swarmTracker{changed: make(chan struct{}, 1), finish: make([]time.Time, peers),
		uploaded: make([]int64, peers), lastAt: make([]time.Time, peers)}
}

// follow reads one shoal process's status lines until it exits.
func (tr *swarmTracker) follow(i int, p *proc) {
	handle := func(l timedLine) {
		var st swarmStatus
		if json.Unmarshal([]byte(l.text), &st) != nil || st.Pieces == 0 {
			return
		}
		tr.mu.Lock()
		if tr.trace != nil {
			fmt.Fprintf(tr.trace, "%d %s %s\n", i, l.at.Format("15:04:05.000"), l.text)
		}
		if st.PiecesHave == st.Pieces && tr.finish[i].IsZero() {
			tr.finish[i] = l.at
		}
		tr.uploaded[i], tr.lastAt[i] = st.Uploaded, l.at
		tr.mu.Unlock()
		select {
		case tr.changed <- struct{}{}:
		default:
		}
	}
	for {
		select {
		case l := <-p.lines:
			handle(l)
		case <-p.done:
			for {
				select {
				case l := <-p.lines:
					handle(l)
				default:
					select {
					case tr.changed <- struct{}{}:
					default:
					}
					return
				}
			}
		}
	}
}

// swarmTimeout is how long a swarm may run before it counts as failed.
func (e *swarmEnv) swarmTimeout() time.Duration {
	if e.cfg.Timeout > 0 {
		return e.cfg.Timeout
	}
	bound := time.Duration(float64(e.cfg.Size) / float64(e.cfg.Rate) * float64(time.Second))
	return 6*bound + 60*time.Second
}

func (e *swarmEnv) shoalCommand(ip string, port int, outDir, dataDir string, peers []string) *exec.Cmd {
	args := []string{"get", e.torrent, "-o", outDir, "--seed", "--json", "--bind", ip, "--port", strconv.Itoa(port),
		"--max-up", strconv.FormatInt(e.cfg.Rate, 10), "--data-dir", dataDir, "--no-dht"}
	for _, p := range peers {
		args = append(args, "--peer", p)
	}
	args = append(args, e.cfg.ShoalFlags...)
	return exec.Command(e.shoalBin, args...)
}

// runShoal runs one Shoal swarm: shoal get --seed processes for the seeder
// (its data already in place) and for every leecher.
func (e *swarmEnv) runShoal(n int, ips []string) (r swarmRun, err error) {
	r = swarmRun{Client: "shoal", N: n}
	dir := filepath.Join(e.tmp, fmt.Sprintf("shoal-%d", n))
	defer os.RemoveAll(dir)
	addrs := make([]string, len(ips))
	for i, ip := range ips {
		port, err := freePort(ip)
		if err != nil {
			return r, err
		}
		addrs[i] = ip + ":" + strconv.Itoa(port)
	}
	procs := make([]*proc, len(ips))
	defer func() {
		// SIGTERM to all first: they stop in parallel.
		for _, p := range procs {
			if p != nil {
				_ = p.cmd.Process.Signal(syscall.SIGTERM)
			}
		}
		for _, p := range procs {
			if p != nil {
				_ = p.stop()
				cpu, _ := p.usage()
				r.CPUSeconds += cpu
			}
		}
	}()
	tr := newSwarmTracker(len(ips))
	if path := os.Getenv("SHOAL_BENCH_TRACE"); path != "" {
		f, err := os.Create(fmt.Sprintf("%s-%d", path, n))
		if err != nil {
			return r, err
		}
		defer f.Close()
		tr.trace = f
	}
	start := func(i int, outDir string, peers []string) error {
		_, portText, _ := strings.Cut(addrs[i], ":")
		port, _ := strconv.Atoi(portText)
		cmd := e.shoalCommand(ips[i], port, outDir, filepath.Join(dir, fmt.Sprintf("data-%d", i)), peers)
		if prof := os.Getenv("SHOAL_BENCH_PROFILE"); prof != "" {
			// A CPU profile of every peer, for looking into a run.
			cmd.Env = append(os.Environ(), fmt.Sprintf("SHOAL_CPUPROFILE=%s-%d-%d.prof", prof, n, i))
		}
		p, err := startProc(cmd)
		if err != nil {
			return err
		}
		procs[i] = p
		go tr.follow(i, p)
		return nil
	}
	if err := start(0, filepath.Dir(e.source), nil); err != nil {
		return r, err
	}
	// The seeder checks its data first; it is ready once it seeds.
	if err := tr.waitFor(procs, time.Minute, func() bool { return !tr.finish[0].IsZero() }); err != nil {
		return r, fmt.Errorf("seeder: %w", err)
	}
	t0 := time.Now()
	files := make([]string, n)
	for k := 1; k <= n; k++ {
		var peers []string
		for j, a := range addrs {
			if j != k {
				peers = append(peers, a)
			}
		}
		out := filepath.Join(dir, fmt.Sprintf("leecher-%d", k))
		files[k-1] = filepath.Join(out, filepath.Base(e.source))
		if err := start(k, out, peers); err != nil {
			return r, err
		}
	}
	allDone := func() bool {
		for _, f := range tr.finish {
			if f.IsZero() {
				return false
			}
		}
		return true
	}
	if err := tr.waitFor(procs, e.swarmTimeout(), allDone); err != nil {
		return r, err
	}
	tr.mu.Lock()
	last := t0
	for k := 1; k <= n; k++ {
		r.Finish = append(r.Finish, tr.finish[k].Sub(t0).Seconds())
		last = maxTime(last, tr.finish[k])
	}
	tr.mu.Unlock()
	r.Seconds = last.Sub(t0).Seconds()
	// The seeder's counter from a status line printed at least a second
	// after the last leecher finished: nobody asks it for anything since.
	settled := func() bool {
		for i := range tr.lastAt {
			if tr.lastAt[i].Before(last.Add(1100 * time.Millisecond)) {
				return false
			}
		}
		return true
	}
	if err := tr.waitFor(procs, 10*time.Second, settled); err != nil {
		return r, fmt.Errorf("waiting for the final counters: %w", err)
	}
	tr.mu.Lock()
	r.SeederUploaded = tr.uploaded[0]
	r.LeecherUploaded = append([]int64(nil), tr.uploaded[1:]...)
	tr.mu.Unlock()
	return r, e.checkLeecherFiles(files)
}

// waitFor waits until cond (called with tr.mu held) holds; a process that
// exits meanwhile, or the timeout, is an error quoting its output.
func (tr *swarmTracker) waitFor(procs []*proc, timeout time.Duration, cond func() bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		tr.mu.Lock()
		ok := cond()
		tr.mu.Unlock()
		if ok {
			return nil
		}
		for i, p := range procs {
			if p == nil {
				continue
			}
			select {
			case <-p.done:
				return fmt.Errorf("peer %d (%s) exited (%v); its last output:\n%s", i, p.name(), p.err, p.tail.last())
			default:
			}
		}
		select {
		case <-tr.changed:
		case <-deadline.C:
			var unfinished []string
			tr.mu.Lock()
			for i, f := range tr.finish {
				if f.IsZero() {
					unfinished = append(unfinished, strconv.Itoa(i))
				}
			}
			tr.mu.Unlock()
			msg := fmt.Sprintf("not done after %v (peers without every piece: %s)", timeout, strings.Join(unfinished, ","))
			for i, p := range procs {
				if p != nil && i < 3 {
					msg += fmt.Sprintf("\npeer %d's last output:\n%s", i, p.tail.last())
				}
			}
			return errors.New(msg)
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// runLibtorrent runs one libtorrent swarm in one python3 process.
func (e *swarmEnv) runLibtorrent(n int, ips []string) (swarmRun, error) {
	r := swarmRun{Client: "lt", N: n}
	dir := filepath.Join(e.tmp, fmt.Sprintf("lt-%d", n))
	defer os.RemoveAll(dir)
	cmd := exec.Command(systemPython, e.script, "swarm", e.torrent, filepath.Dir(e.source), dir,
		"--ips", strings.Join(ips, ","), "--rate", strconv.FormatInt(e.cfg.Rate, 10))
	p, err := startProc(cmd)
	if err != nil {
		return r, err
	}
	defer p.kill()
	if _, err := p.waitLine(2*time.Minute, func(l string) bool { return strings.Contains(l, `"ready": true`) }); err != nil {
		return r, err
	}
	startLine, err := p.waitLine(time.Minute, func(l string) bool { return strings.Contains(l, `"start": true`) })
	if err != nil {
		return r, err
	}
	t0 := startLine.at
	finish := make([]float64, n)
	deadline := time.Now().Add(e.swarmTimeout())
	var done struct {
		SeederUploaded  int64   `json:"seeder_uploaded"`
		LeecherUploaded []int64 `json:"leecher_uploaded"`
	}
	for {
		l, err := p.waitLine(time.Until(deadline), func(l string) bool {
			return strings.Contains(l, `"finished"`) || strings.Contains(l, `"done"`)
		})
		if err != nil {
			return r, err
		}
		if strings.Contains(l.text, `"done"`) {
			if err := json.Unmarshal([]byte(l.text), &done); err != nil {
				return r, fmt.Errorf("libtorrent's last line %q: %w", l.text, err)
			}
			break
		}
		var fin struct {
			Finished int `json:"finished"`
		}
		if err := json.Unmarshal([]byte(l.text), &fin); err != nil || fin.Finished < 1 || fin.Finished > n {
			return r, fmt.Errorf("libtorrent: bad line %q", l.text)
		}
		finish[fin.Finished-1] = l.at.Sub(t0).Seconds()
	}
	for k, f := range finish {
		if f == 0 {
			return r, fmt.Errorf("libtorrent: leecher %d never reported finishing", k+1)
		}
		r.Seconds = max(r.Seconds, f)
	}
	r.Finish = finish
	r.SeederUploaded, r.LeecherUploaded = done.SeederUploaded, done.LeecherUploaded
	if err := p.wait(30 * time.Second); err != nil {
		return r, err
	}
	r.CPUSeconds, _ = p.usage()
	files := make([]string, n)
	for k := range files {
		files[k] = filepath.Join(dir, strconv.Itoa(k+1), filepath.Base(e.source))
	}
	return r, e.checkLeecherFiles(files)
}
