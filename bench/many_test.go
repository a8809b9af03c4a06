package main

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteManyChart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.svg")
	res := manyResult{FileSize: 32 << 10, Targets: manyTargetValues, Runs: []manyRun{
		{Torrents: 1000, KiBPerTorrent: 8.25, IdleCPUPercent: 0.01, AddSeconds: 0.3, RestartSeconds: 0.12},
		{Torrents: 10000, KiBPerTorrent: 7.5, IdleCPUPercent: 0.02, AddSeconds: 2.5, RestartSeconds: 0.9},
	}}
	if err := writeManyChart(path, res); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(strings.NewReader(string(data)))
	bars := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, data)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			bars++
		}
	}
	if bars != 1+4*2 { // the background, then two bars in each of four panels
		t.Errorf("%d rects, want 9", bars)
	}
	for _, want := range []string{"8.25", "7.50", "10000", "restart", `stroke-dasharray`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}

func TestPerTorrentKiB(t *testing.T) {
	if got := perTorrentKiB(10<<20+5<<20, 5<<20, 1024); got != 10 {
		t.Errorf("perTorrentKiB = %v, want 10", got)
	}
}

func TestProcStatus(t *testing.T) {
	v, err := procStatus("VmRSS", "RssAnon")
	if err != nil {
		t.Fatal(err)
	}
	if v[0] <= 0 || v[1] <= 0 || v[1] > v[0] {
		t.Errorf("VmRSS %d, RssAnon %d", v[0], v[1])
	}
	if _, err := procStatus("NoSuchKey"); err == nil {
		t.Error("procStatus of a missing key: no error")
	}
}

// TestManyChildFailsLoudly runs the measuring child on a data directory
// without the torrents it is told to add: it must exit non-zero and say
// why, so that the parent never records such a run.
func TestManyChildFailsLoudly(t *testing.T) {
	bin := buildBench(t)
	dir := t.TempDir()
	out, err := exec.Command(bin, "many-child", "-mode", "add", "-n", "2", "-dir", dir,
		"-state", filepath.Join(dir, "state"), "-idle", "0s", "-settle", "0s").CombinedOutput()
	if err == nil {
		t.Fatalf("child succeeded without torrents:\n%s", out)
	}
	if !strings.Contains(string(out), "bench: FAILED") || !strings.Contains(string(out), manyResultPrefix) {
		t.Errorf("child output lacks the failure and the result line:\n%s", out)
	}
}

// TestManySmallRun runs the whole scenario on a few torrents and checks the
// result it writes.
func TestManySmallRun(t *testing.T) {
	bin := buildBench(t)
	out := t.TempDir()
	cmd := exec.Command(bin, "many", "-counts", "5,12", "-idle", "100ms", "-settle", "0s", "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("many: %v\n%s", err, b)
	}
	files, _ := filepath.Glob(filepath.Join(out, "many-*.json"))
	svgs, _ := filepath.Glob(filepath.Join(out, "many-*.svg"))
	if len(files) != 1 || len(svgs) != 1 {
		t.Fatalf("results: %v %v", files, svgs)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var res manyResult
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 2 || res.Runs[0].Torrents != 5 || res.Runs[1].Torrents != 12 {
		t.Fatalf("runs: %+v", res.Runs)
	}
	for _, r := range res.Runs {
		if r.RehashedPieces != 0 || r.AddSeconds <= 0 || r.RestoreSeconds <= 0 {
			t.Errorf("run %+v: want no piece rehashed and positive times", r)
		}
	}
}

func buildBench(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the bench binary")
	}
	bin := filepath.Join(t.TempDir(), "bench")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
