package interop

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pythonPath is Debian's Python: the only interpreter here that can import
// the libtorrent module from python3-libtorrent.
const pythonPath = "/usr/bin/python3"

// toolTimeout bounds every external command, so a hung tool fails a test
// instead of stalling the suite.
const toolTimeout = 2 * time.Minute

var (
	// shoalBin is the shoal binary built once by TestMain.
	shoalBin string
	// shoalBuildErr is why building shoal failed; tests needing it fail with it.
	shoalBuildErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shoal-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop: making temp dir:", err)
		os.Exit(1)
	}
	shoalBin = filepath.Join(dir, "shoal")
	shoalBuildErr = buildShoal(shoalBin)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildShoal compiles cmd/shoal into out with the go command running this test.
func buildShoal(out string) error {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		if os.Getenv("GOROOT") == "" {
			goCmd = "/usr/local/go/bin/go"
		}
	}
	cmd := exec.Command(goCmd, "build", "-o", out, "shoal/cmd/shoal")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build shoal/cmd/shoal: %v\n%s", err, msg)
	}
	return nil
}

// debianPackage names the package that provides each external tool.
var debianPackage = map[string]string{
	"mktorrent":           "mktorrent",
	"transmission-show":   "transmission-cli",
	"transmission-create": "transmission-cli",
	pythonPath:            "python3",
}

// inCI reports whether missing tools must fail rather than skip.
func inCI() bool { return os.Getenv("CI") == "true" }

// missing skips the test, or fails it under CI=true, because a tool is absent.
func missing(t *testing.T, what, pkg string, err error) {
	t.Helper()
	if inCI() {
		t.Fatalf("%s is required when CI=true but is not usable (%v): apt-get install %s", what, err, pkg)
	}
	t.Skipf("%s not usable (%v); apt-get install %s to run this test", what, err, pkg)
}

// requireTool returns the path of an external program, skipping the test
// (failing under CI=true) when it is not installed.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		pkg := debianPackage[name]
		if pkg == "" {
			pkg = name
		}
		missing(t, name, pkg, err)
	}
	return path
}

// requireLibtorrent skips the test (fails under CI=true) unless Debian's
// Python can import libtorrent.
func requireLibtorrent(t *testing.T) {
	t.Helper()
	requireTool(t, pythonPath)
	out, err := exec.Command(pythonPath, "-c", "import libtorrent").CombinedOutput()
	if err != nil {
		missing(t, "the libtorrent Python module", "python3-libtorrent",
			fmt.Errorf("%v: %s", err, bytes.TrimSpace(out)))
	}
}

// requireShoal fails the test if the shoal binary could not be built: shoal
// is ours, so there is nothing to skip for.
func requireShoal(t *testing.T) {
	t.Helper()
	if shoalBuildErr != nil {
		t.Fatal(shoalBuildErr)
	}
}

// run executes a command and returns its standard output; any failure,
// including a non-zero exit, fails the test with the command's stderr.
func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s %s: %v\nstderr: %s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
		}
	case <-time.After(toolTimeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s %s: still running after %v", filepath.Base(name), strings.Join(args, " "), toolTimeout)
	}
	return stdout.Bytes()
}

// shoal runs the shoal binary.
func shoal(t *testing.T, args ...string) []byte {
	t.Helper()
	requireShoal(t)
	return run(t, shoalBin, args...)
}

// shoalFile is one entry of `shoal info --json`'s file list.
type shoalFile struct {
	Path   []string `json:"path"`
	Length int64    `json:"length"`
}

// shoalInfo is the output of `shoal info --json` (see the CLI contract).
type shoalInfo struct {
	InfoHash    string      `json:"info_hash"`
	Name        string      `json:"name"`
	TotalSize   *int64      `json:"total_size"`
	PieceLength *int64      `json:"piece_length"`
	PieceCount  *int        `json:"piece_count"`
	Files       []shoalFile `json:"files"`
	Trackers    [][]string  `json:"trackers"`
	WebSeeds    []string    `json:"web_seeds"`
	Private     *bool       `json:"private"`
	Magnet      string      `json:"magnet"`
}

// shoalInfoJSON runs `shoal info --json` on a torrent file or magnet link.
func shoalInfoJSON(t *testing.T, target string) shoalInfo {
	t.Helper()
	out := shoal(t, "info", "--json", target)
	var info shoalInfo
	dec := json.NewDecoder(bytes.NewReader(out))
	if err := dec.Decode(&info); err != nil {
		t.Fatalf("shoal info --json %s: output is not the contract's JSON object: %v\n%s", target, err, out)
	}
	if dec.More() {
		t.Fatalf("shoal info --json %s printed more than one JSON value:\n%s", target, out)
	}
	return info
}

// ltFile is one file as libtorrent lists it; pad marks BEP 47 padding files.
type ltFile struct {
	Path   []string `json:"path"`
	Length int64    `json:"length"`
	Pad    bool     `json:"pad"`
}

// ltInfo is what testdata/lt.py info prints: libtorrent's torrent_info.
type ltInfo struct {
	InfoHashV1  string     `json:"info_hash_v1"`
	HasV2       bool       `json:"has_v2"`
	Name        string     `json:"name"`
	TotalSize   int64      `json:"total_size"`
	PieceLength int64      `json:"piece_length"`
	NumPieces   int        `json:"num_pieces"`
	Private     bool       `json:"private"`
	Source      *string    `json:"source"`
	Files       []ltFile   `json:"files"`
	Trackers    [][]string `json:"trackers"`
	WebSeeds    []string   `json:"web_seeds"`
}

// ltScript is the path of the libtorrent driver script.
func ltScript(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "lt.py"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// libtorrentInfo loads a torrent with libtorrent.
func libtorrentInfo(t *testing.T, torrent string) ltInfo {
	t.Helper()
	requireLibtorrent(t)
	out := run(t, pythonPath, ltScript(t), "info", torrent)
	var info ltInfo
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("lt.py info %s: %v\n%s", torrent, err, out)
	}
	return info
}

// nonPadFiles drops BEP 47 padding files, which `shoal info` does not list.
func (li ltInfo) nonPadFiles() []shoalFile {
	var files []shoalFile
	for _, f := range li.Files {
		if !f.Pad {
			files = append(files, shoalFile{Path: f.Path, Length: f.Length})
		}
	}
	return files
}

// tsInfo is what transmission-show prints about a torrent.
type tsInfo struct {
	Name     string
	Hash     string
	Private  bool
	Trackers [][]string
	WebSeeds []string
	// Files are "path (size)" lines in torrent order (-u), with the size as
	// Transmission formats it.
	Files []string
}

// transmissionShow runs transmission-show -u and parses its report.
func transmissionShow(t *testing.T, torrent string) tsInfo {
	t.Helper()
	bin := requireTool(t, "transmission-show")
	out := run(t, bin, "-u", torrent)
	var info tsInfo
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if line != "" && !strings.HasPrefix(line, " ") {
			section = strings.TrimSpace(line)
			continue
		}
		text := strings.TrimSpace(line)
		if text == "" {
			continue
		}
		switch section {
		case "GENERAL":
			key, val, _ := strings.Cut(text, ": ")
			switch key {
			case "Name":
				info.Name = val
			case "Hash":
				info.Hash = val
			case "Privacy":
				info.Private = val == "Private torrent"
			}
		case "TRACKERS":
			if strings.HasPrefix(text, "Tier #") {
				info.Trackers = append(info.Trackers, nil)
			} else if n := len(info.Trackers); n > 0 {
				info.Trackers[n-1] = append(info.Trackers[n-1], text)
			}
		case "WEBSEEDS":
			info.WebSeeds = append(info.WebSeeds, text)
		case "FILES":
			info.Files = append(info.Files, text)
		}
	}
	if info.Hash == "" {
		t.Fatalf("transmission-show %s printed no Hash line:\n%s", torrent, out)
	}
	return info
}

// transmissionSize formats a byte count the way transmission-show 3.00 does:
// decimal units from kB up, two decimals below 100 of a unit, else one.
func transmissionSize(n int64) string {
	units := []string{"kB", "MB", "GB", "TB"}
	unit := 0
	div := 1000.0
	for unit < len(units)-1 && float64(n) >= div*1000 {
		div *= 1000
		unit++
	}
	v := float64(n) / div
	prec := 1
	if v < 100 {
		prec = 2
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + " " + units[unit]
}

// transmissionFiles renders a file list as transmission-show prints it.
func transmissionFiles(files []shoalFile) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = fmt.Sprintf("%s (%s)", strings.Join(f.Path, "/"), transmissionSize(f.Length))
	}
	return out
}

// fixtureFile is one file of a test tree; Size bytes of deterministic data.
type fixtureFile struct {
	Path string
	Size int
}

// makeTree writes files under root (created as needed) with content from a
// fixed seed, so every run hashes the same bytes.
func makeTree(t *testing.T, root string, files []fixtureFile) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, uint64(len(files))))
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		data := make([]byte, f.Size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// nestedTree is a multi-file fixture: nested directories, empty files, sizes
// that are not multiples of any piece length, ~1.3 MB in all.
var nestedTree = []fixtureFile{
	{"a.bin", 100_000},
	{"empty-top", 0},
	{"sub/b.bin", 70_001},
	{"sub/deeper/c.txt", 5},
	{"sub/deeper/empty", 0},
	{"sub/deeper/large.dat", 1_048_577},
	{"z/last", 123_457},
}

// singleFile is a single-file fixture that is not a multiple of a piece.
var singleFile = []fixtureFile{{"single.bin", 300_001}}
