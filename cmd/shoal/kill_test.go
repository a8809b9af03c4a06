package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildShoal builds the shoal binary into a temporary directory.
func buildShoal(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "shoal")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// getProcess is a "shoal get --json" subprocess whose status lines are
// read as they come.
type getProcess struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	exitC  chan struct{} // closed when the process has exited and its output is read

	mu    sync.Mutex
	lines []getLine // complete JSON lines so far
	last  getLine   // the last status (not done) line
}

func startGet(t *testing.T, bin string, args ...string) *getProcess {
	t.Helper()
	g := &getProcess{cmd: exec.Command(bin, args...), exitC: make(chan struct{})}
	g.cmd.Stderr = &g.stderr
	stdout, err := g.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var l getLine
			// A line cut by SIGKILL is not JSON; it is simply ignored.
			if json.Unmarshal(sc.Bytes(), &l) != nil {
				continue
			}
			g.mu.Lock()
			g.lines = append(g.lines, l)
			if !l.Done {
				g.last = l
			}
			g.mu.Unlock()
		}
		g.cmd.Wait()
		close(g.exitC)
	}()
	return g
}

// lastStatus returns the last status line printed so far.
func (g *getProcess) lastStatus() getLine {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last
}

// exited reports whether the process has ended.
func (g *getProcess) exited() bool {
	select {
	case <-g.exitC:
		return true
	default:
		return false
	}
}

// wait waits for the process to end, at most d.
func (g *getProcess) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-g.exitC:
	case <-time.After(d):
		g.cmd.Process.Kill()
		<-g.exitC
		t.Fatalf("shoal get did not exit within %v; stderr:\n%s", d, g.stderr.String())
	}
}

// finish waits for a run that should complete and returns its done line.
func (g *getProcess) finish(t *testing.T, d time.Duration) getLine {
	t.Helper()
	g.wait(t, d)
	if code := g.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("shoal get: exit status %d; stderr:\n%s", code, g.stderr.String())
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.lines) == 0 || !g.lines[len(g.lines)-1].Done {
		t.Fatalf("shoal get --json did not end with a done line: %+v", g.lines)
	}
	return g.lines[len(g.lines)-1]
}

// checkResumed checks a completed run against the before pieces that runs
// before it had verified: it found at least those on disk and downloaded
// only the rest, give or take a few pieces that were in flight.
func checkResumed(t *testing.T, done getLine, before int, total, pieceLength int64) {
	t.Helper()
	t.Logf("final run: verified_at_start %d (earlier runs had %d), downloaded %d of %d", done.VerifiedAtStart, before, done.Downloaded, total)
	if done.VerifiedAtStart < before {
		t.Errorf("verified_at_start %d, but earlier runs had verified %d pieces", done.VerifiedAtStart, before)
	}
	const slackPieces = 3
	left := total - int64(done.VerifiedAtStart)*pieceLength
	if done.Downloaded > left+slackPieces*pieceLength {
		t.Errorf("downloaded %d bytes, but only %d were missing: verified pieces were fetched again", done.Downloaded, left)
	}
	if done.Downloaded < left {
		t.Errorf("downloaded %d bytes, but %d were missing", done.Downloaded, left)
	}
}

// TestGetInterruptedResumes stops a download with SIGINT and then SIGTERM:
// each run exits promptly with status 1 and the "interrupted" message, and
// the next run resumes from what was verified.
func TestGetInterruptedResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildShoal(t)
	const pieceLength = 128 << 10
	c := makeContent(t, "movie.bin", pieceLength, 8<<20)
	_, _, addr := startSeeder(t, c, 2<<20) // 4 s for the whole torrent
	out, dataDir := t.TempDir(), t.TempDir()
	args := append(getArgs(c.torrent, out, dataDir, addr), "--json")

	verified := 0
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		g := startGet(t, bin, args...)
		// Interrupt once the run has verified a few pieces of its own.
		deadline := time.Now().Add(20 * time.Second)
		for g.lastStatus().PiecesHave < verified+4 {
			if g.exited() || time.Now().After(deadline) {
				g.cmd.Process.Kill()
				t.Fatalf("no progress before %v (stderr %q)", sig, g.stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		sent := time.Now()
		if err := g.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		g.wait(t, 10*time.Second)
		if took := time.Since(sent); took > 5*time.Second {
			t.Errorf("%v: took %v to exit", sig, took)
		}
		if code := g.cmd.ProcessState.ExitCode(); code != exitFailure {
			t.Errorf("%v: exit status %d, want 1", sig, code)
		}
		if lastLine(g.stderr.String()) != "shoal: interrupted; run the same command again to resume" {
			t.Errorf("%v: stderr %q, want it to end with the interrupted message", sig, g.stderr.String())
		}
		st := g.lastStatus()
		if st.PiecesHave >= st.Pieces {
			t.Fatalf("%v: the download had finished; make it slower", sig)
		}
		verified = st.PiecesHave
		t.Logf("%v after %d of %d pieces", sig, verified, st.Pieces)
	}
	done := startGet(t, bin, args...).finish(t, 60*time.Second)
	checkResumed(t, done, verified, c.mi.Info.TotalLength(), pieceLength)
	sameData(t, c.mi, c.root, out)
	if _, err := os.Stat(filepath.Join(dataDir, "resume.db")); err != nil {
		t.Errorf("no resume database in --data-dir: %v", err)
	}
}
