package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"shoal/bitfield"
	"shoal/metainfo"
	"shoal/storage"
)

// verifyOptions holds the flags of "shoal verify".
type verifyOptions struct {
	asJSON  bool
	only    string
	workers int
}

// maxListedBadFiles bounds how many bad files the error line names, and
// maxListedBadPieces how many piece indices each bad file lists: a torrent
// of 10,000 files that is all missing must still give a readable report.
const (
	maxListedBadFiles  = 3
	maxListedBadPieces = 16
)

func newVerifyCommand() *cobra.Command {
	var opts verifyOptions
	cmd := &cobra.Command{
		Use:   "verify TORRENT [PATH]",
		Short: "Check data against a torrent's piece hashes",
		Long: `Hash every piece of the torrent TORRENT found at PATH and report which
files are missing, too short or corrupt. PATH is the content itself, as for
shoal seed: the file of a single-file torrent, the top directory of a
multi-file torrent (it may have been renamed). Without PATH, the content is
looked for under the torrent's name in the current directory.

All cores hash at once (--workers to change). A progress bar is shown on a
terminal; the summary gives pieces verified, bytes and MB/s.

Exit status: 0 when every wanted piece verifies, 1 when something is
missing or corrupt (the error names the first bad files), 2 on wrong usage.

--json prints one JSON object: ok, info_hash, name, path, pieces (wanted),
pieces_verified, bytes, bytes_verified, seconds, mb_per_s, missing_files
(count) and bad_files (each with path, status "missing", "short", "long" or
"corrupt", size on disk, expected length and the first bad pieces).`,
		Example: `  shoal verify album.torrent ./album
  shoal verify big.iso.torrent --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usagef("%s takes TORRENT and an optional PATH, got %d arguments", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			content := ""
			if len(args) == 2 {
				content = args[1]
			}
			return runVerify(cmd.Context(), args[0], content, &opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	flags := cmd.Flags()
	flags.BoolVar(&opts.asJSON, "json", false, "print the result as one JSON object")
	flags.StringVar(&opts.only, "only", "", "check only these file `INDICES` (e.g. 0,2,5-7; see shoal info)")
	flags.IntVar(&opts.workers, "workers", 0, "hashing goroutines (`N`, 0 = one per core)")
	return cmd
}

// fileReport is one file that is not as the torrent describes it.
type fileReport struct {
	Path      []string `json:"path"` // components, the first being the torrent's name
	Status    string   `json:"status"`
	Size      int64    `json:"size"` // on disk; -1 when missing
	Length    int64    `json:"length"`
	BadPieces []int    `json:"bad_pieces,omitempty"` // the first few
}

// Statuses of a fileReport.
const (
	fileMissing = "missing" // not there at all
	fileShort   = "short"   // shorter than its length: the tail is missing
	fileLong    = "long"    // longer than its length: every piece may still verify
	fileCorrupt = "corrupt" // the right size, but a piece in it fails its hash
)

// verifyReport is the result of "shoal verify", printed by --json.
type verifyReport struct {
	OK             bool         `json:"ok"`
	InfoHash       string       `json:"info_hash"`
	Name           string       `json:"name"`
	Path           string       `json:"path"`
	Pieces         int          `json:"pieces"` // wanted pieces checked
	PiecesVerified int          `json:"pieces_verified"`
	Bytes          int64        `json:"bytes"` // in the wanted pieces
	BytesVerified  int64        `json:"bytes_verified"`
	Seconds        float64      `json:"seconds"`
	MBPerS         float64      `json:"mb_per_s"` // 10^6 bytes read and hashed per second
	MissingFiles   int          `json:"missing_files"`
	BadFiles       []fileReport `json:"bad_files"`
}

func runVerify(ctx context.Context, torrentPath, content string, o *verifyOptions, stdout, stderr io.Writer) error {
	if o.workers < 0 {
		return usagef("--workers must not be negative")
	}
	mi, err := metainfo.Load(torrentPath)
	if err != nil {
		return err
	}
	info := &mi.Info
	var wanted []bool
	if o.only != "" {
		if wanted, err = parseFileSelection(o.only, len(info.Files)); err != nil {
			return usageError{err}
		}
	}
	if content == "" {
		content = info.Name
	}
	abs, err := filepath.Abs(content)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(abs); err == nil {
		if single := info.SingleFile; single && fi.IsDir() {
			return fmt.Errorf("%s is a directory, but the torrent holds a single file", content)
		} else if !single && !fi.IsDir() {
			return fmt.Errorf("%s is a file, but the torrent holds a directory", content)
		}
	}
	// The content may have been renamed: read it under its own name, as
	// shoal seed does.
	disk := *info
	if base := filepath.Base(abs); base != info.Name {
		if err := metainfo.ValidatePath([]string{base}); err != nil {
			return fmt.Errorf("content name: %w", err)
		}
		disk.Name = base
	}
	st, err := storage.NewFileStorage(filepath.Dir(abs), &disk, storage.FileOptions{Wanted: wanted})
	if err != nil {
		return err
	}
	defer st.Close()

	layout := metainfo.NewLayout(info)
	var pieces []int
	var bytes int64
	for i := range layout.NumPieces() {
		if st.PieceWanted(i) {
			pieces = append(pieces, i)
			bytes += layout.PieceSize(i)
		}
	}
	// Stat before hashing, so that the report says what the check saw.
	states := fileStates(&disk, filepath.Dir(abs))

	bar := newHashProgress(ctx, stderr, "verifying", !o.asJSON && isTerminal(stderr))
	pieceLength := layout.PieceLength()
	start := time.Now()
	good, err := storage.VerifyPieces(ctx, st, info, pieces, o.workers, func(done, total int) {
		bar.report(min(int64(done)*pieceLength, bytes), bytes)
	})
	elapsed := time.Since(start)
	bar.finish(err == nil)
	if err != nil {
		if ctx.Err() != nil {
			return errors.New("interrupted")
		}
		return err
	}

	rep, unread := buildVerifyReport(mi, layout, pieces, good, states, wanted)
	rep.Path, rep.Bytes, rep.Seconds = abs, bytes, elapsed.Seconds()
	if rep.Seconds > 0 {
		rep.MBPerS = float64(bytes-unread) / 1e6 / rep.Seconds
	}
	if o.asJSON {
		if err := writeJSONLine(stdout, rep); err != nil {
			return err
		}
	} else {
		writeVerifySummary(stdout, rep)
	}
	if !rep.OK {
		return errors.New(verifyFailure(rep))
	}
	return nil
}

// fileState is what a stat of one torrent file found.
type fileState struct {
	size int64 // -1: missing
}

// fileStates stats every file of info below dir (padding files count as
// present). A path that exists but cannot be used (a directory, say) is
// reported as missing; the hash check fails its pieces anyway.
func fileStates(info *metainfo.Info, dir string) []fileState {
	states := make([]fileState, len(info.Files))
	for j, f := range info.Files {
		if f.IsPadding() {
			states[j].size = f.Length
			continue
		}
		states[j].size = -1
		p, err := info.FilePath(dir, j)
		if err != nil {
			continue
		}
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
			states[j].size = fi.Size()
		}
	}
	return states
}

// buildVerifyReport works out which files are to blame for the pieces that
// did not verify. A piece that touches a missing or short file is blamed on
// that file alone; a piece whose files are all there and long enough is
// blamed on each of them as corrupt. It also returns the bytes of the
// pieces that were not (wholly) on disk, which were not hashed.
func buildVerifyReport(mi *metainfo.MetaInfo, layout *metainfo.Layout, pieces []int, good *bitfield.Bitfield,
	states []fileState, wanted []bool) (rep verifyReport, unread int64) {
	info := &mi.Info
	rep = verifyReport{InfoHash: mi.InfoHash.String(), Name: info.Name, Pieces: len(pieces)}
	reports := map[int]*fileReport{}
	var order []int // files in the order first found bad
	report := func(j int, status string) *fileReport {
		r := reports[j]
		if r == nil {
			path := []string{info.Name}
			if !info.SingleFile {
				path = append(path, info.Files[j].Path...)
			}
			r = &fileReport{Path: path, Status: status, Size: states[j].size, Length: info.Files[j].Length}
			reports[j] = r
			order = append(order, j)
		}
		return r
	}
	// Files in the wrong state are reported even when no piece of theirs
	// failed (a long file, or a missing empty file, still differs).
	for j, f := range info.Files {
		if f.IsPadding() || (wanted != nil && !wanted[j]) {
			continue
		}
		switch size := states[j].size; {
		case size < 0:
			report(j, fileMissing)
		case size < f.Length:
			report(j, fileShort)
		case size > f.Length:
			report(j, fileLong)
		}
	}
	for _, i := range pieces {
		if good.Has(i) {
			rep.PiecesVerified++
			rep.BytesVerified += layout.PieceSize(i)
			continue
		}
		var blamed []int
		for _, sp := range layout.PieceSpans(i) {
			if info.Files[sp.File].IsPadding() {
				continue
			}
			if size := states[sp.File].size; size < sp.Offset+sp.Length {
				blamed = append(blamed, sp.File)
			}
		}
		if len(blamed) > 0 {
			unread += layout.PieceSize(i)
		} else {
			for _, sp := range layout.PieceSpans(i) {
				if !info.Files[sp.File].IsPadding() {
					blamed = append(blamed, sp.File)
				}
			}
		}
		for _, j := range blamed {
			status := fileCorrupt
			if states[j].size < 0 {
				status = fileMissing
			} else if states[j].size < info.Files[j].Length {
				status = fileShort
			}
			r := report(j, status)
			if r.Status == fileLong {
				r.Status = fileCorrupt
			}
			if len(r.BadPieces) < maxListedBadPieces {
				r.BadPieces = append(r.BadPieces, i)
			}
		}
	}
	rep.BadFiles = make([]fileReport, 0, len(order))
	for _, j := range order {
		r := reports[j]
		if r.Status == fileMissing {
			rep.MissingFiles++
		}
		rep.BadFiles = append(rep.BadFiles, *r)
	}
	rep.OK = rep.PiecesVerified == rep.Pieces
	return rep, unread
}

// writeVerifySummary prints the report for people.
func writeVerifySummary(w io.Writer, rep verifyReport) {
	fmt.Fprintf(w, "%s: %d of %d pieces verified, %s of %s in %.2f s (%.0f MB/s)\n",
		printable(rep.Name), rep.PiecesVerified, rep.Pieces, formatSize(rep.BytesVerified), formatSize(rep.Bytes),
		rep.Seconds, rep.MBPerS)
	switch rep.MissingFiles {
	case 0:
	case 1:
		fmt.Fprintln(w, "1 missing file")
	default:
		fmt.Fprintf(w, "%d missing files\n", rep.MissingFiles)
	}
	for _, r := range rep.BadFiles {
		fmt.Fprintf(w, "  %s: %s\n", printable(filepath.Join(r.Path...)), describeBadFile(r))
	}
}

// describeBadFile says what is wrong with one file, in a few words.
func describeBadFile(r fileReport) string {
	var s string
	switch r.Status {
	case fileMissing:
		s = "missing"
	case fileShort:
		s = fmt.Sprintf("short: %d of %d bytes", r.Size, r.Length)
	case fileLong:
		s = fmt.Sprintf("too long: %d bytes, expected %d", r.Size, r.Length)
	default:
		s = "corrupt"
	}
	if len(r.BadPieces) > 0 {
		parts := make([]string, len(r.BadPieces))
		for k, i := range r.BadPieces {
			parts[k] = fmt.Sprint(i)
		}
		more := ""
		if len(r.BadPieces) == maxListedBadPieces {
			more = ", ..."
		}
		s += fmt.Sprintf(", bad pieces %s%s", strings.Join(parts, ", "), more)
	}
	return s
}

// verifyFailure is the one-line error of a failed check: counts, then the
// first bad files.
func verifyFailure(rep verifyReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d pieces fail their hash check", rep.Pieces-rep.PiecesVerified, rep.Pieces)
	var named []string
	for _, r := range rep.BadFiles {
		if r.Status == fileLong {
			continue // not why pieces fail
		}
		if len(named) == maxListedBadFiles {
			named = append(named, "...")
			break
		}
		named = append(named, filepath.Join(r.Path...)+" ("+describeBadFile(r)+")")
	}
	if len(named) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(named, "; "))
	}
	return b.String()
}
