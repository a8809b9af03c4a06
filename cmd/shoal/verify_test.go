package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// verifyJSON runs "shoal verify --json" and decodes its report.
func verifyJSON(t *testing.T, args ...string) (result, verifyReport) {
	t.Helper()
	r := shoal(t, append([]string{"verify", "--json"}, args...)...)
	var rep verifyReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not one JSON report: %v\n%s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return r, rep
}

// flipByte inverts one byte of a file in place.
func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyGoodSingleFile(t *testing.T) {
	c := makeContent(t, "movie.bin", 16<<10, 100_000) // 7 pieces, the last short
	r := shoal(t, "verify", c.torrent, c.root)
	if r.code != exitOK {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "movie.bin: 7 of 7 pieces verified, 97.7 KiB of 97.7 KiB in ") {
		t.Errorf("summary %q", r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("stderr not empty (no terminal, so no progress bar): %q", r.stderr)
	}
	r, rep := verifyJSON(t, c.torrent, c.root, "--workers", "3")
	if r.code != exitOK || !rep.OK || rep.Pieces != 7 || rep.PiecesVerified != 7 ||
		rep.Bytes != 100_000 || rep.BytesVerified != 100_000 || len(rep.BadFiles) != 0 ||
		rep.InfoHash != c.mi.InfoHash.String() || rep.Path != c.root || rep.Seconds <= 0 {
		t.Errorf("exit %d, report %+v", r.code, rep)
	}
}

func TestVerifyCorruptByteNamesFileAndPiece(t *testing.T) {
	c := makeContent(t, "movie.bin", 16<<10, 100_000)
	flipByte(t, c.root, 3*16<<10+5) // in piece 3
	r := shoal(t, "verify", c.torrent, c.root)
	assertFailure(t, r, "1 of 7 pieces fail their hash check", "movie.bin (corrupt, bad pieces 3)")
	if !strings.Contains(r.stdout, "6 of 7 pieces verified") || !strings.Contains(r.stdout, "movie.bin: corrupt, bad pieces 3") {
		t.Errorf("summary %q", r.stdout)
	}
	r, rep := verifyJSON(t, c.torrent, c.root)
	want := []fileReport{{Path: []string{"movie.bin"}, Status: fileCorrupt, Size: 100_000, Length: 100_000, BadPieces: []int{3}}}
	if r.code != exitFailure || rep.OK || rep.PiecesVerified != 6 || rep.BytesVerified != 100_000-16<<10 ||
		!slices.EqualFunc(rep.BadFiles, want, equalFileReport) {
		t.Errorf("exit %d, report %+v", r.code, rep)
	}
}

func equalFileReport(a, b fileReport) bool {
	return slices.Equal(a.Path, b.Path) && a.Status == b.Status && a.Size == b.Size && a.Length == b.Length &&
		slices.Equal(a.BadPieces, b.BadPieces)
}

// The multi-file content used below: 16 KiB pieces over
// f0 (40,000 bytes: pieces 0-2), f1 (20,000: pieces 2-3), f2 (50,000:
// pieces 3-6), f3 (10,000: pieces 6-7); 120,000 bytes, 8 pieces.
func multiContent(t *testing.T) content {
	return makeContent(t, "album", 16<<10, 40_000, 20_000, 50_000, 10_000)
}

func TestVerifyMultiFileGoodAndRenamed(t *testing.T) {
	c := multiContent(t)
	r, rep := verifyJSON(t, c.torrent, c.root)
	if r.code != exitOK || !rep.OK || rep.Pieces != 8 || rep.PiecesVerified != 8 || rep.Bytes != 120_000 {
		t.Fatalf("exit %d, report %+v, stderr %s", r.code, rep, r.stderr)
	}
	renamed := filepath.Join(filepath.Dir(c.root), "album-renamed")
	if err := os.Rename(c.root, renamed); err != nil {
		t.Fatal(err)
	}
	if r := shoal(t, "verify", c.torrent, renamed); r.code != exitOK {
		t.Fatalf("renamed: exit %d, stderr %s", r.code, r.stderr)
	}
	// Without PATH, the content is looked for under its name here.
	t.Chdir(filepath.Dir(c.root))
	r = shoal(t, "verify", c.torrent)
	assertFailure(t, r, "8 of 8 pieces fail", "album/f0.bin (missing")
	// Nothing was there to hash, so nothing was hashed.
	if r, rep := verifyJSON(t, c.torrent); r.code != exitFailure || rep.MissingFiles != 4 || rep.MBPerS != 0 {
		t.Errorf("all missing: exit %d, report %+v", r.code, rep)
	}
	if err := os.Rename(renamed, c.root); err != nil {
		t.Fatal(err)
	}
	if r := shoal(t, "verify", c.torrent); r.code != exitOK {
		t.Fatalf("default path: exit %d, stderr %s", r.code, r.stderr)
	}
}

func TestVerifyMissingFile(t *testing.T) {
	c := multiContent(t)
	if err := os.Remove(filepath.Join(c.root, "f1.bin")); err != nil {
		t.Fatal(err)
	}
	r, rep := verifyJSON(t, c.torrent, c.root)
	want := []fileReport{{Path: []string{"album", "f1.bin"}, Status: fileMissing, Size: -1, Length: 20_000, BadPieces: []int{2, 3}}}
	if r.code != exitFailure || rep.OK || rep.PiecesVerified != 6 || rep.MissingFiles != 1 ||
		!slices.EqualFunc(rep.BadFiles, want, equalFileReport) {
		t.Errorf("exit %d, report %+v", r.code, rep)
	}
	r = shoal(t, "verify", c.torrent, c.root)
	assertFailure(t, r, "2 of 8 pieces fail", "album/f1.bin (missing, bad pieces 2, 3)")
	if !strings.Contains(r.stdout, "1 missing file\n") {
		t.Errorf("summary %q", r.stdout)
	}
}

func TestVerifyTruncatedFile(t *testing.T) {
	c := multiContent(t)
	// f2 covers bytes 60,000-110,000: cut it to 10,000 bytes (up to 70,000),
	// so pieces 4 (65,536-81,920) to 6 lose data; piece 3 still verifies.
	if err := os.Truncate(filepath.Join(c.root, "f2.bin"), 10_000); err != nil {
		t.Fatal(err)
	}
	r, rep := verifyJSON(t, c.torrent, c.root)
	want := []fileReport{{Path: []string{"album", "f2.bin"}, Status: fileShort, Size: 10_000, Length: 50_000, BadPieces: []int{4, 5, 6}}}
	if r.code != exitFailure || rep.PiecesVerified != 5 || rep.MissingFiles != 0 ||
		!slices.EqualFunc(rep.BadFiles, want, equalFileReport) {
		t.Errorf("exit %d, report %+v", r.code, rep)
	}
	assertFailure(t, shoal(t, "verify", c.torrent, c.root), "3 of 8 pieces fail",
		"album/f2.bin (short: 10000 of 50000 bytes, bad pieces 4, 5, 6)")
}

func TestVerifyMultiFileCorruptAndOnly(t *testing.T) {
	c := multiContent(t)
	flipByte(t, filepath.Join(c.root, "f0.bin"), 100)   // piece 0
	flipByte(t, filepath.Join(c.root, "f3.bin"), 9_999) // piece 7
	// A file that grew keeps its pieces valid but is reported.
	f, err := os.OpenFile(filepath.Join(c.root, "f1.bin"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("extra")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r, rep := verifyJSON(t, c.torrent, c.root)
	want := []fileReport{
		{Path: []string{"album", "f1.bin"}, Status: fileLong, Size: 20_005, Length: 20_000},
		{Path: []string{"album", "f0.bin"}, Status: fileCorrupt, Size: 40_000, Length: 40_000, BadPieces: []int{0}},
		{Path: []string{"album", "f3.bin"}, Status: fileCorrupt, Size: 10_000, Length: 10_000, BadPieces: []int{7}},
	}
	if r.code != exitFailure || rep.PiecesVerified != 6 || !slices.EqualFunc(rep.BadFiles, want, equalFileReport) {
		t.Errorf("exit %d, report %+v", r.code, rep)
	}
	// Only f1 and f2 wanted: pieces 2-6, all good; f1's length is reported.
	r, rep = verifyJSON(t, c.torrent, c.root, "--only", "1-2")
	if r.code != exitOK || rep.Pieces != 5 || rep.PiecesVerified != 5 || len(rep.BadFiles) != 1 {
		t.Errorf("--only 1-2: exit %d, report %+v", r.code, rep)
	}
}

func TestVerifyUsageAndInputErrors(t *testing.T) {
	c := multiContent(t)
	assertUsage(t, shoal(t, "verify"), "shoal verify", "TORRENT and an optional PATH")
	assertUsage(t, shoal(t, "verify", "a", "b", "c"), "shoal verify", "got 3 arguments")
	assertUsage(t, shoal(t, "verify", c.torrent, c.root, "--workers", "-1"), "shoal verify", "--workers")
	assertUsage(t, shoal(t, "verify", c.torrent, c.root, "--only", "9"), "shoal verify", "--only")
	assertFailure(t, shoal(t, "verify", filepath.Join(t.TempDir(), "none.torrent"), c.root), "none.torrent")
	assertFailure(t, shoal(t, "verify", c.torrent, filepath.Join(c.root, "f0.bin")), "is a file, but the torrent holds a directory")
}
