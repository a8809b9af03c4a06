package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"shoal/metainfo"
)

// createOptions holds the flags of "shoal create".
type createOptions struct {
	output    string
	trackers  []string // one entry per -t: a tier, URLs separated by commas
	webSeeds  []string
	pieceSize pieceSizeValue
	private   bool
	comment   string
	source    string
	noDate    bool
}

func newCreateCommand() *cobra.Command {
	var opts createOptions
	cmd := &cobra.Command{
		Use:   "create PATH -o OUT.torrent",
		Short: "Make a .torrent from a file or directory",
		Long: `Make a v1 .torrent from the file or directory at PATH and write it to OUT.

Each -t adds one tracker tier (BEP 12); separate the URLs of one tier with
commas: "-t udp://a,udp://b -t http://c" makes the tiers [a b] and [c].
Trackers may be http, https, udp or wss URLs; web seeds (BEP 19, -w) http
or https.

SIZE is a byte count with an optional unit: K, M, G or KiB, MiB, GiB (all
powers of 1024, as "KB", "MB" and "GB" are here too), e.g. 16K, 4MiB,
262144. A piece size must be a power of two from 16 KiB to 256 MiB; "auto"
(the default) picks one from the total size.

OUT is replaced atomically: a failed or interrupted create leaves no
partial file. A progress bar is shown on stderr when it is a terminal.`,
		Example: `  shoal create ./album -o album.torrent -t udp://tracker.example:6969/announce
  shoal create big.iso -o big.torrent --piece-size 4M --private --no-date`,
		Args: exactArgs(1, "PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCreate(cmd.Context(), args[0], &opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&opts.output, "output", "o", "", "where to write the .torrent (required)")
	// StringArray, not StringSlice: StringSlice would split commas itself and
	// lose the boundary between tiers.
	flags.StringArrayVarP(&opts.trackers, "tracker", "t", nil, "`URL[,URL...]` of one tracker tier; repeat -t for more tiers")
	flags.StringArrayVarP(&opts.webSeeds, "web-seed", "w", nil, "web seed `URL` (repeatable)")
	flags.Var(&opts.pieceSize, "piece-size", "piece length: SIZE or auto")
	flags.BoolVar(&opts.private, "private", false, "set the private flag (BEP 27): peers only from the trackers")
	flags.StringVar(&opts.comment, "comment", "", "free-text comment stored in the torrent")
	flags.StringVar(&opts.source, "source", "", "source tag stored in the info dictionary (changes the info hash)")
	flags.BoolVar(&opts.noDate, "no-date", false, "omit the creation date (makes the output reproducible)")
	return cmd
}

// runCreate checks everything it can before hashing (which may take minutes),
// builds the torrent, writes it and prints a one-line summary.
func runCreate(ctx context.Context, root string, opts *createOptions, stdout, stderr io.Writer) error {
	if opts.output == "" {
		return usagef("required flag -o/--output not set")
	}
	if root == "" {
		return errors.New("empty PATH argument")
	}
	tiers, err := parseTiers(opts.trackers)
	if err != nil {
		return err
	}
	for _, u := range opts.webSeeds {
		if err := checkURL(u, "web seed", "http", "https"); err != nil {
			return err
		}
	}
	if n := opts.pieceSize.bytes; n != 0 {
		if err := checkPieceLength(n); err != nil {
			return err
		}
	}
	if err := checkOutputPath(opts.output); err != nil {
		return err
	}

	build := metainfo.BuildOptions{
		PieceLength: opts.pieceSize.bytes,
		Trackers:    tiers,
		WebSeeds:    opts.webSeeds,
		Private:     opts.private,
		Comment:     opts.comment,
		Source:      opts.source,
		CreatedBy:   "shoal/" + version,
	}
	if !opts.noDate {
		build.CreationDate = time.Now()
	}
	progress := newHashProgress(ctx, stderr, "hashing", isTerminal(stderr))
	if progress != nil {
		build.Progress = progress.report
	}
	mi, err := metainfo.Build(ctx, root, build)
	if err == nil && ctx.Err() != nil {
		// Interrupted after the last piece: still write nothing.
		err = ctx.Err()
	}
	progress.finish(err == nil)
	if err != nil {
		if ctx.Err() != nil {
			return errors.New("interrupted; no torrent written")
		}
		return withPath(err, root)
	}
	data, err := mi.Marshal()
	if err != nil {
		return fmt.Errorf("encoding torrent: %w", err)
	}
	if err := writeFileAtomic(opts.output, data); err != nil {
		return err
	}
	info := &mi.Info
	fmt.Fprintf(stdout, "created %s: name %q, info hash %s, %s (%d bytes), %d pieces × %s\n",
		printable(opts.output), info.Name, mi.InfoHash, formatSize(info.TotalLength()), info.TotalLength(),
		info.NumPieces(), formatSize(info.PieceLength))
	return nil
}

// parseTiers turns the -t values into tracker tiers: each value is one tier
// (BEP 12) and commas separate the URLs within it. Blanks around URLs are
// trimmed and empty entries (a trailing comma) skipped, but a tier with no
// URL at all is an error, as is any URL a tracker client could not use.
func parseTiers(values []string) ([][]string, error) {
	var tiers [][]string
	for _, value := range values {
		var tier []string
		for _, u := range strings.Split(value, ",") {
			u = strings.TrimSpace(u)
			if u == "" {
				continue
			}
			if err := checkURL(u, "tracker", "http", "https", "udp", "wss"); err != nil {
				return nil, err
			}
			tier = append(tier, u)
		}
		if len(tier) == 0 {
			return nil, fmt.Errorf("tracker tier %q has no URL", value)
		}
		tiers = append(tiers, tier)
	}
	return tiers, nil
}

// checkURL reports whether raw is an absolute URL with a host and one of the
// allowed schemes. kind ("tracker", "web seed") goes into the error.
func checkURL(raw, kind string, schemes ...string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("invalid %s URL %q: %v", kind, raw, errors.Unwrap(err))
	}
	scheme := strings.ToLower(u.Scheme)
	allowed := false
	for _, s := range schemes {
		if scheme == s {
			allowed = true
		}
	}
	if !allowed {
		return fmt.Errorf("invalid %s URL %q: scheme must be %s", kind, raw, strings.Join(schemes, ", "))
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("invalid %s URL %q: no host", kind, raw)
	}
	return nil
}

// checkOutputPath fails early, before hashing, if the torrent could not be
// written at path: its directory must exist and path must not be a directory.
func checkOutputPath(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("output %s is a directory", path)
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("output directory %s is not a directory", dir)
	}
	return nil
}

// writeFileAtomic writes data to a temporary file in path's directory and
// renames it over path, so readers see the old file or the complete new
// one, never a partial one, and a failure leaves path untouched.
func writeFileAtomic(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing torrent: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("writing torrent: %w", err)
	}
	// CreateTemp makes the file 0600; a .torrent holds nothing secret, so
	// keep the mode of the file being replaced, or make it world-readable.
	mode := os.FileMode(0o644)
	if fi, statErr := os.Stat(path); statErr == nil {
		mode = fi.Mode().Perm()
	}
	if err = tmp.Chmod(mode); err != nil {
		return fmt.Errorf("writing torrent: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("writing torrent: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("writing torrent: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing torrent: %w", err)
	}
	return nil
}

// withPath makes sure an error names the path it is about: errors from the
// os package already do, others get it prefixed.
func withPath(err error, path string) error {
	if strings.Contains(err.Error(), path) {
		return err
	}
	return fmt.Errorf("%s: %w", path, err)
}
