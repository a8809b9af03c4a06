package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"shoal/metainfo"
)

func newInfoCommand() *cobra.Command {
	var asJSON, scrape bool
	var fetch fetchOptions
	cmd := &cobra.Command{
		Use:   "info TORRENT|MAGNET",
		Short: "Describe a .torrent file or a magnet link",
		Long: `Describe a .torrent file or a magnet link (an argument starting with
"magnet:"): name, info hash, size, pieces, trackers, web seeds and files.

With --json, print one JSON object with these keys:
  info_hash     40 lowercase hex digits (the v1 info hash); "" for a
                magnet link that names only a v2 (btmh) hash
  name          the torrent's name (a magnet link's dn, "" if absent)
  total_size    bytes of data, padding files included       (torrent only)
  piece_length  bytes per piece                              (torrent only)
  piece_count   number of pieces                             (torrent only)
  files         [{"path": [components...], "length": N}]     (torrent only)
                path starts with the torrent's name, as the file would be
                saved below a download directory; BEP 47 padding files
                are left out
  trackers      list of tiers, each a list of URLs; a torrent with only
                "announce" gives [[announce]]; each tr of a magnet link
                is its own tier
  web_seeds     list of URLs
  private       BEP 27 flag                                  (torrent only)
  magnet        a magnet link for the torrent
Keys marked "torrent only" are absent for a magnet link, which does not
carry that information. Lists are [] when empty, never null.

With --scrape, ask every tracker instead (BEP 48 and BEP 15 scrape) and
print one line per tracker: seeders, leechers and completed downloads, or
the error. It fails when no tracker answers. With --json as well, print
{"info_hash": ..., "scrape": [{"url", "tier", "seeders", "leechers",
"completed"} or {"url", "tier", "error"}, ...]}.

With --fetch, MAGNET's metadata is fetched from peers (BEP 9), as shoal get
does, and saved as the .torrent file -o FILE, with the link's trackers; the
torrent is then described as above. The session flags (--peer, --port,
--no-dht, --dht-bootstrap, ...) say where to look for peers.`,
		Example: `  shoal info album.torrent
  shoal info --json album.torrent | jq .info_hash
  shoal info 'magnet:?xt=urn:btih:...'
  shoal info --fetch 'magnet:?xt=urn:btih:...' -o album.torrent`,
		Args: exactArgs(1, "TORRENT or MAGNET"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if fetch.enabled {
				if scrape {
					return usagef("--fetch and --scrape cannot be used together")
				}
				return runInfoFetch(cmd.Context(), args[0], &fetch, asJSON, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			if scrape {
				return runScrape(cmd.Context(), args[0], asJSON, cmd.OutOrStdout())
			}
			return runInfo(args[0], asJSON, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object (keys listed above)")
	cmd.Flags().BoolVar(&scrape, "scrape", false, "ask each tracker for seeders, leechers and completed downloads (see shoal info --help)")
	fetch.register(cmd.Flags())
	return cmd
}

func runInfo(arg string, asJSON bool, stdout io.Writer) error {
	if arg == "" {
		return errors.New("empty argument: want a .torrent file or a magnet link")
	}
	if strings.HasPrefix(strings.ToLower(arg), "magnet:") {
		m, err := metainfo.ParseMagnet(arg)
		if err != nil {
			return fmt.Errorf("invalid magnet link: %w", err)
		}
		if asJSON {
			return writeJSON(stdout, magnetJSON(m))
		}
		return writeMagnetText(stdout, m)
	}
	mi, err := metainfo.Load(arg)
	if err != nil {
		return withPath(err, arg)
	}
	if asJSON {
		return writeJSON(stdout, torrentJSON(mi))
	}
	return writeTorrentText(stdout, mi)
}

// infoJSON is the object "shoal info --json" prints. Its field order and
// tags fix the key names scripts rely on; the pointer fields are absent for
// a magnet link, which does not know them.
type infoJSON struct {
	InfoHash    string      `json:"info_hash"`
	Name        string      `json:"name"`
	TotalSize   *int64      `json:"total_size,omitempty"`
	PieceLength *int64      `json:"piece_length,omitempty"`
	PieceCount  *int        `json:"piece_count,omitempty"`
	Files       *[]fileJSON `json:"files,omitempty"`
	Trackers    [][]string  `json:"trackers"`
	WebSeeds    []string    `json:"web_seeds"`
	Private     *bool       `json:"private,omitempty"`
	Magnet      string      `json:"magnet"`
}

// fileJSON is one entry of infoJSON.Files.
type fileJSON struct {
	// Path is relative to the download directory: the torrent's name, then
	// the file's path components for a multi-file torrent.
	Path   []string `json:"path"`
	Length int64    `json:"length"`
}

func torrentJSON(mi *metainfo.MetaInfo) infoJSON {
	info := &mi.Info
	total := info.TotalLength()
	pieceLength := info.PieceLength
	pieceCount := info.NumPieces()
	private := info.Private
	files := make([]fileJSON, 0, len(info.Files))
	for _, f := range info.Files {
		if f.IsPadding() {
			continue
		}
		files = append(files, fileJSON{Path: f.DisplayPath(info.Name), Length: f.Length})
	}
	return infoJSON{
		InfoHash:    mi.InfoHash.String(),
		Name:        info.Name,
		TotalSize:   &total,
		PieceLength: &pieceLength,
		PieceCount:  &pieceCount,
		Files:       &files,
		Trackers:    torrentTiers(mi),
		WebSeeds:    nonNil(mi.URLList),
		Private:     &private,
		Magnet:      mi.Magnet().String(),
	}
}

func magnetJSON(m *metainfo.Magnet) infoJSON {
	tiers := make([][]string, 0, len(m.Trackers))
	for _, tr := range m.Trackers {
		tiers = append(tiers, []string{tr})
	}
	return infoJSON{
		InfoHash: magnetHash(m),
		Name:     m.Name,
		Trackers: tiers,
		WebSeeds: nonNil(m.WebSeeds),
		Magnet:   m.String(),
	}
}

// magnetHash is the v1 info hash of a magnet link in hex, or "" for a link
// that names only a v2 (BEP 52) torrent.
func magnetHash(m *metainfo.Magnet) string {
	if !m.HasV1 {
		return ""
	}
	return m.InfoHash.String()
}

// torrentTiers returns the tracker tiers: BEP 12 says a client that uses
// "announce-list" ignores "announce", and a torrent with only "announce" has
// that one tracker as its only tier. Empty tiers are dropped.
func torrentTiers(mi *metainfo.MetaInfo) [][]string {
	tiers := make([][]string, 0, len(mi.AnnounceList))
	for _, tier := range mi.AnnounceList {
		if len(tier) > 0 {
			tiers = append(tiers, tier)
		}
	}
	if len(tiers) == 0 && mi.Announce != "" {
		tiers = append(tiers, []string{mi.Announce})
	}
	return tiers
}

// nonNil makes an absent list encode as [] rather than null, so scripts can
// iterate over it without a check.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	// Magnet links contain '&'; keep them readable rather than \u0026.
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
