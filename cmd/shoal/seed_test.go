package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// seedAddrRE finds the address "shoal seed" announces once verified.
var seedAddrRE = regexp.MustCompile(`seeding .* on (127\.0\.0\.1:[0-9]+); Ctrl-C to stop`)

// startSeed runs "shoal seed" in-process until the test ends and returns
// the address it seeds on, and a function that stops it and returns its
// result.
func startSeed(t *testing.T, torrent, path string) (string, func() result) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	resultC := make(chan result, 1)
	args := []string{"seed", torrent, path, "--port", "0", "--bind", "127.0.0.1", "--data-dir", t.TempDir(), "--no-dht"}
	go func() {
		var stdout syncBuffer
		code := execute(ctx, args, &stdout, &stderr)
		resultC <- result{code, stdout.String(), stderr.String()}
	}()
	var stopped *result
	stop := func() result {
		if stopped == nil {
			cancel()
			r := <-resultC
			stopped = &r
		}
		return *stopped
	}
	t.Cleanup(func() { stop() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := seedAddrRE.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], stop
		}
		select {
		case r := <-resultC:
			resultC <- r
			t.Fatalf("shoal seed exited with status %d:\n%s", r.code, r.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("shoal seed did not start seeding; stderr:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSeedRenamedDirectory(t *testing.T) {
	c := makeContent(t, "album", 16<<10, 30_000, 45_000, 1)
	// The content was renamed after the torrent was made: seed still finds
	// its files under the new top directory.
	renamed := filepath.Join(filepath.Dir(c.root), "album (copy)")
	if err := os.Rename(c.root, renamed); err != nil {
		t.Fatal(err)
	}
	addr, stop := startSeed(t, c.torrent, renamed)

	out := t.TempDir()
	done := doneLine(t, shoalTimeout(t, 60*time.Second, append(getArgs(c.torrent, out, t.TempDir(), addr), "--json")...))
	if done.Downloaded != c.mi.Info.TotalLength() {
		t.Errorf("downloaded %d, want %d", done.Downloaded, c.mi.Info.TotalLength())
	}
	// Compare with the renamed original: the download has the torrent's name.
	for i := range c.mi.Info.Files {
		got, _ := c.mi.Info.FilePath(out, i)
		want := filepath.Join(renamed, filepath.Join(c.mi.Info.Files[i].Path...))
		a, err1 := os.ReadFile(want)
		b, err2 := os.ReadFile(got)
		if err1 != nil || err2 != nil || string(a) != string(b) {
			t.Fatalf("file %d differs (%v, %v)", i, err1, err2)
		}
	}

	// Ctrl-C is the normal way to stop seeding: exit status 0.
	if r := stop(); r.code != exitOK {
		t.Errorf("stopping seed: exit status %d; stderr:\n%s", r.code, r.stderr)
	}
}

func TestSeedSingleFile(t *testing.T) {
	c := makeContent(t, "movie.bin", 16<<10, 100_000)
	renamed := filepath.Join(filepath.Dir(c.root), "renamed.bin")
	if err := os.Rename(c.root, renamed); err != nil {
		t.Fatal(err)
	}
	addr, _ := startSeed(t, c.torrent, renamed)
	out := t.TempDir()
	r := shoalTimeout(t, 60*time.Second, getArgs(c.torrent, out, t.TempDir(), addr)...)
	if r.code != exitOK {
		t.Fatalf("get: exit status %d:\n%s", r.code, r.stderr)
	}
	a, _ := os.ReadFile(renamed)
	b, err := os.ReadFile(filepath.Join(out, "movie.bin"))
	if err != nil || string(a) != string(b) {
		t.Fatalf("downloaded file differs (%v)", err)
	}
}

func TestSeedRefusesMismatchedData(t *testing.T) {
	c := makeContent(t, "data", 16<<10, 40_000, 60_000)
	n := c.mi.Info.NumPieces()
	// Flip one byte in piece 0 and one in the last piece.
	corrupt := func(rel string, off int64) {
		p := filepath.Join(c.root, rel)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data[off] ^= 0xff
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	corrupt("f0.bin", 10)
	corrupt("f1.bin", 59_999)
	r := shoalTimeout(t, 30*time.Second, "seed", c.torrent, c.root, "--port", "0", "--bind", "127.0.0.1", "--data-dir", t.TempDir(), "--no-dht")
	if r.code != exitFailure {
		t.Fatalf("exit status %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	last := lastLine(r.stderr)
	want := "does not match the torrent: 2 of " + strconv.Itoa(n) + " pieces fail their hash check"
	if !strings.HasPrefix(last, "shoal: ") || !strings.Contains(last, want) {
		t.Errorf("last stderr line %q, want one containing %q", last, want)
	}
	if strings.Contains(r.stderr, "seeding ") {
		t.Errorf("seed announced seeding mismatched data:\n%s", r.stderr)
	}
}

func TestSeedBadInputs(t *testing.T) {
	single := makeContent(t, "one.bin", 16<<10, 1000)
	multi := makeContent(t, "many", 16<<10, 1000, 2000)
	dir := t.TempDir()
	seed := func(torrent, path string, extra ...string) []string {
		return append([]string{"seed", torrent, path, "--port", "0", "--data-dir", dir, "--no-dht"}, extra...)
	}
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"missing content", seed(single.torrent, filepath.Join(dir, "gone")), exitFailure, []string{"gone"}},
		{"missing torrent", seed(filepath.Join(dir, "gone.torrent"), single.root), exitFailure, []string{"gone.torrent"}},
		{"directory for a single file", seed(single.torrent, dir), exitFailure, []string{"is a directory", "single file"}},
		{"file for a directory", seed(multi.torrent, single.root), exitFailure, []string{"is a file", "directory"}},
		{"peer without port", seed(single.torrent, single.root, "--peer", "localhost"), exitUsage, []string{"--peer"}},
		{"max-up bad value", seed(single.torrent, single.root, "--max-up", "1X"), exitUsage, []string{"max-up"}},
		{"no max-down on seed", seed(single.torrent, single.root, "--max-down", "1M"), exitUsage, []string{"max-down"}},
		{"one argument", []string{"seed", single.torrent}, exitUsage, []string{"TORRENT and PATH"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := shoalTimeout(t, 10*time.Second, tc.args...)
			if tc.code == exitFailure {
				assertFailure(t, r, tc.want...)
			} else {
				assertUsage(t, r, "shoal seed", tc.want...)
			}
		})
	}
}
