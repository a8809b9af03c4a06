package main

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"shoal/bitfield"
	"shoal/metainfo"
	"shoal/storage"
)

// TestGetKilledTwentyTimes kills "shoal get" with SIGKILL at 20 random
// moments of one download, starting it again each time with the same
// directories, and checks after every kill that
//
//   - no piece is recorded as verified in the resume store while its data
//     on disk is wrong (each recorded piece is hashed from the files);
//   - the record never forgets a piece an earlier record had;
//
// and at every restart that the check finds at least the pieces the record
// holds, and at the end that the data is byte-identical. The seeder sits
// behind a gate that opens only once the restarted run has printed its
// first status line after its check: until then no payload can arrive, so
// that line's pieces_have is exactly what the check found.
//
// The kill moments come from a seeded generator; the seed is logged, and
// SHOAL_CRASH_SEED=<seed> replays the same moments.
func TestGetKilledTwentyTimes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and downloads for about a minute")
	}
	bin := buildShoal(t)
	const pieceLength = 256 << 10
	// Three files whose boundaries fall inside pieces, so a piece can be
	// half in a file that changed and half in one that did not.
	c := makeContent(t, "crash", pieceLength, 6_000_000, 5_500_123, 8_000_000)
	_, _, seedAddr := startSeeder(t, c, 512<<10) // about 40 s for the whole torrent
	gate := newGatedProxy(t, seedAddr)
	out, dataDir := t.TempDir(), t.TempDir()
	args := append(getArgs(c.torrent, out, dataDir, gate.addr()), "--json")
	info := &c.mi.Info
	numPieces := info.NumPieces()

	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SHOAL_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("SHOAL_CRASH_SEED: %v", err)
		}
	}
	t.Logf("random seed %d (SHOAL_CRASH_SEED=%d replays the kill moments)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x5ea1))

	const runs = 20
	// Kinds of run: most are killed within two seconds of their first
	// payload; four live past the first periodic resume save (5 s after
	// start), so later runs start from records; three are killed during
	// start-up, before or while they check.
	kinds := make([]runKind, runs)
	perm := rng.Perm(runs)
	for i, r := range perm {
		switch {
		case i < 4:
			kinds[r] = runLong
		case i < 7:
			kinds[r] = runEarly
		}
	}
	resumeDB := filepath.Join(dataDir, "resume.db")
	var recorded *bitfield.Bitfield // the last record's verified pieces
	for run := range runs {
		gate.close()
		g := startGet(t, bin, args...)
		started := time.Now()
		switch kinds[run] {
		case runEarly:
			gate.open()
			sleepUnlessExited(g, time.Duration(rng.IntN(400))*time.Millisecond)
		default:
			st := waitChecked(t, g)
			if st.Downloaded != 0 {
				t.Fatalf("run %d: %d bytes downloaded before the gate opened", run, st.Downloaded)
			}
			if n := count(recorded); st.PiecesHave < n {
				t.Errorf("run %d: the check found %d pieces, but the resume record had %d", run, st.PiecesHave, n)
			}
			gate.open()
			delay := time.Duration(50+rng.IntN(2000)) * time.Millisecond
			if kinds[run] == runLong {
				delay = time.Until(started.Add(time.Duration(5300+rng.IntN(1500)) * time.Millisecond))
			}
			// Sooner once 85 % is there, so the last run still has work.
			soon := time.Duration(rng.IntN(300)) * time.Millisecond
			deadline := time.Now().Add(delay)
			for time.Now().Before(deadline) && !g.exited() {
				if st := g.lastStatus(); st.Pieces > 0 && st.PiecesHave*100 >= st.Pieces*85 {
					if early := time.Now().Add(soon); early.Before(deadline) {
						deadline = early
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		if g.exited() {
			t.Fatalf("run %d ended before it was killed (stderr %q)", run, g.stderr.String())
		}
		if err := g.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		g.wait(t, 5*time.Second)

		rec := loadRecordReadOnly(t, resumeDB, c.mi.InfoHash, numPieces)
		if recorded != nil && rec != nil {
			for i := recorded.NextSet(0); i >= 0; i = recorded.NextSet(i + 1) {
				if !rec.Has(i) {
					t.Errorf("run %d: piece %d was recorded as verified, and no longer is", run, i)
				}
			}
		} else if recorded != nil && count(recorded) > 0 {
			t.Errorf("run %d: the resume record is gone", run)
		}
		if rec != nil {
			recorded = rec
			for i := rec.NextSet(0); i >= 0; i = rec.NextSet(i + 1) {
				if !pieceOnDisk(info, out, i) {
					t.Errorf("run %d: piece %d is recorded as verified, but its data on disk is wrong", run, i)
				}
			}
		}
		t.Logf("run %d (%v) killed after %v: %d pieces had, %d recorded of %d",
			run, kinds[run], time.Since(started).Round(time.Millisecond), g.lastStatus().PiecesHave, count(recorded), numPieces)
		if t.Failed() {
			t.FailNow() // replay with the seed; later runs would only pile up errors
		}
	}
	gate.open()
	done := startGet(t, bin, args...).finish(t, 60*time.Second)
	if done.VerifiedAtStart >= numPieces {
		t.Fatal("the torrent was complete before the last run; make the download slower")
	}
	if done.VerifiedAtStart < count(recorded) {
		t.Errorf("last run: verified_at_start %d, but the resume record had %d", done.VerifiedAtStart, count(recorded))
	}
	t.Logf("last run: verified_at_start %d, downloaded %d of %d bytes", done.VerifiedAtStart, done.Downloaded, info.TotalLength())
	// Verified pieces are not fetched again (a few in flight may come twice).
	if limit := int64(numPieces-done.VerifiedAtStart+3) * pieceLength; done.Downloaded > limit {
		t.Errorf("last run downloaded %d bytes, more than the %d pieces missing at its start", done.Downloaded, numPieces-done.VerifiedAtStart)
	}
	sameData(t, c.mi, c.root, out)
}

// runKind says when a run of TestGetKilledTwentyTimes is killed.
type runKind int

const (
	runShort runKind = iota // within two seconds of the first payload
	runLong                 // after the first periodic resume save
	runEarly                // during start-up or the check
)

func (k runKind) String() string {
	return [...]string{"short", "long", "early"}[k]
}

// sleepUnlessExited sleeps for d or until the process ends.
func sleepUnlessExited(g *getProcess, d time.Duration) {
	select {
	case <-g.exitC:
	case <-time.After(d):
	}
}

// waitChecked waits for the first status line printed after the run's
// check of existing data.
func waitChecked(t *testing.T, g *getProcess) getLine {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		g.mu.Lock()
		for _, l := range g.lines {
			if !l.Done && l.Pieces > 0 && (l.State == "downloading" || l.State == "seeding") {
				g.mu.Unlock()
				return l
			}
		}
		g.mu.Unlock()
		if g.exited() || time.Now().After(deadline) {
			g.cmd.Process.Kill()
			g.wait(t, 5*time.Second)
			t.Fatalf("no status line after the check (stderr %q)", g.stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// loadRecordReadOnly opens the resume store read-only, as another process
// would, and returns the verified pieces recorded for ih; nil when there
// is no record (the killed run never saved one).
func loadRecordReadOnly(t *testing.T, path string, ih metainfo.InfoHash, numPieces int) *bitfield.Bitfield {
	t.Helper()
	rs, err := storage.OpenResumeStoreReadOnly(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatalf("opening the resume store after the kill: %v", err)
	}
	defer rs.Close()
	rec, ok, err := rs.Load(ih)
	if err != nil {
		t.Fatalf("resume record after the kill: %v", err)
	}
	if !ok {
		return nil
	}
	bf, err := bitfield.FromBytes(rec.Verified, numPieces)
	if err != nil {
		t.Fatalf("resume record after the kill: %v", err)
	}
	return bf
}

// pieceOnDisk reports whether piece i's bytes in the files below dir hash
// to the torrent's piece hash. It reads the files itself rather than
// through package storage, so that a bug there cannot hide here.
func pieceOnDisk(info *metainfo.Info, dir string, i int) bool {
	start := int64(i) * info.PieceLength
	end := min(start+info.PieceLength, info.TotalLength())
	h := sha1.New()
	var fileStart int64
	for j := range info.Files {
		fl := info.Files[j].Length
		lo, hi := max(start, fileStart), min(end, fileStart+fl)
		if lo < hi {
			path, err := info.FilePath(dir, j)
			if err != nil {
				return false
			}
			buf := make([]byte, hi-lo)
			f, err := os.Open(path)
			if err != nil {
				return false
			}
			_, err = f.ReadAt(buf, lo-fileStart)
			f.Close()
			if err != nil {
				return false
			}
			h.Write(buf)
		}
		fileStart += fl
	}
	return bytes.Equal(h.Sum(nil), info.Pieces[i][:])
}

// gatedProxy forwards TCP connections to a target, but holds each one
// until the gate that was current when it arrived opens.
type gatedProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	gate  chan struct{} // closed when connections may pass
	conns map[net.Conn]bool
	done  bool
}

func newGatedProxy(t *testing.T, target string) *gatedProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &gatedProxy{ln: ln, target: target, gate: make(chan struct{}), conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.shutdown)
	return p
}

func (p *gatedProxy) addr() string { return p.ln.Addr().String() }

// close makes connections that arrive from now on wait for open.
func (p *gatedProxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
		p.gate = make(chan struct{})
	default:
	}
}

// open lets waiting and new connections through.
func (p *gatedProxy) open() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
}

// track remembers c for shutdown; false if the proxy is shutting down.
func (p *gatedProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

func (p *gatedProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			continue
		}
		p.mu.Lock()
		gate := p.gate
		p.mu.Unlock()
		p.wg.Add(1)
		go p.forward(c, gate)
	}
}

// forward waits for gate, then copies both ways until either side closes.
func (p *gatedProxy) forward(c net.Conn, gate chan struct{}) {
	defer p.wg.Done()
	defer c.Close()
	<-gate
	s, err := net.Dial("tcp", p.target)
	if err != nil || !p.track(s) {
		return
	}
	defer s.Close()
	copied := make(chan struct{}, 2)
	go func() { io.Copy(s, c); copied <- struct{}{} }()
	go func() { io.Copy(c, s); copied <- struct{}{} }()
	<-copied
	c.Close()
	s.Close()
	<-copied
}

// shutdown stops accepting, ends every connection and waits for the
// forwarding goroutines.
func (p *gatedProxy) shutdown() {
	p.ln.Close()
	p.mu.Lock()
	p.done = true
	for c := range p.conns {
		c.Close()
	}
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// count is the number of set bits, 0 for no bitfield.
func count(bf *bitfield.Bitfield) int {
	if bf == nil {
		return 0
	}
	return bf.Count()
}
