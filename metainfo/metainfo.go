package metainfo

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"shoal/bencode"
)

// MaxTorrentSize is the largest .torrent file Parse and Load accept: 32 MiB
// is far more than the pieces of any sane torrent need (a 1 TiB torrent
// with 1 MiB pieces has 20 MiB of hashes).
const MaxTorrentSize = 32 << 20

// decodeOptions decodes real-world torrents: many were written by programs
// that did not sort dictionary keys (BEP 3 requires sorting), so keys are
// accepted in any order. The info hash stays right because it is taken
// over the info dictionary's exact bytes.
var decodeOptions = bencode.DecodeOptions{Lenient: true, MaxSize: MaxTorrentSize}

// torrentIn is the top-level dictionary as read. Every key but info is kept
// raw and decoded on its own, so that a value of the wrong type in a key a
// client can do without (BEP 12 tiers, a creation date) is ignored instead
// of failing the whole torrent, as libtorrent and Transmission do.
type torrentIn struct {
	Info         bencode.RawMessage `bencode:"info"`
	Announce     bencode.RawMessage `bencode:"announce"`
	AnnounceList bencode.RawMessage `bencode:"announce-list"`
	URLList      bencode.RawMessage `bencode:"url-list"`
	CreationDate bencode.RawMessage `bencode:"creation date"`
	Comment      bencode.RawMessage `bencode:"comment"`
	CreatedBy    bencode.RawMessage `bencode:"created by"`
	Encoding     bencode.RawMessage `bencode:"encoding"`
}

// torrentOut is the top-level dictionary as written (Marshal sorts keys).
type torrentOut struct {
	Announce     string             `bencode:"announce,omitempty"`
	AnnounceList [][]string         `bencode:"announce-list,omitempty"`
	Comment      string             `bencode:"comment,omitempty"`
	CreatedBy    string             `bencode:"created by,omitempty"`
	CreationDate int64              `bencode:"creation date,omitempty"`
	Encoding     string             `bencode:"encoding,omitempty"`
	Info         bencode.RawMessage `bencode:"info"`
	URLList      []string           `bencode:"url-list,omitempty"`
}

// infoIn is the info dictionary as read. Keys of a v2 or hybrid torrent
// (BEP 52: "meta version", "file tree") are ignored, except that a torrent
// with "meta version" but no "pieces" is reported as v2-only.
type infoIn struct {
	Name        *string            `bencode:"name"`
	NameUTF8    bencode.RawMessage `bencode:"name.utf-8"`
	PieceLength *int64             `bencode:"piece length"`
	Pieces      []byte             `bencode:"pieces"`
	Length      *int64             `bencode:"length"`
	Files       []fileIn           `bencode:"files"`
	Private     bencode.RawMessage `bencode:"private"`
	Source      bencode.RawMessage `bencode:"source"`
	Attr        string             `bencode:"attr"`
	SymlinkPath []string           `bencode:"symlink path"`
	SHA1        bencode.RawMessage `bencode:"sha1"`
	MetaVersion bencode.RawMessage `bencode:"meta version"`
}

// fileIn is one entry of the info dictionary's "files" list.
type fileIn struct {
	Length      *int64             `bencode:"length"`
	Path        []string           `bencode:"path"`
	PathUTF8    bencode.RawMessage `bencode:"path.utf-8"`
	Attr        string             `bencode:"attr"`
	SymlinkPath []string           `bencode:"symlink path"`
	SHA1        bencode.RawMessage `bencode:"sha1"`
}

// infoOut is the info dictionary as SetInfo writes it: "length" for the
// single-file form, "files" for the multi-file form, BEP 47 keys only when
// set, "private" only when true.
type infoOut struct {
	Attr        string    `bencode:"attr,omitempty"`
	Files       []fileOut `bencode:"files,omitempty"`
	Length      *int64    `bencode:"length"`
	Name        string    `bencode:"name"`
	PieceLength int64     `bencode:"piece length"`
	Pieces      []byte    `bencode:"pieces"`
	Private     int       `bencode:"private,omitempty"`
	SHA1        []byte    `bencode:"sha1,omitempty"`
	Source      string    `bencode:"source,omitempty"`
	SymlinkPath []string  `bencode:"symlink path,omitempty"`
}

// fileOut is one "files" entry as written. BEP 47 asks writers to keep
// "length" (0) on symlinks and a path on padding files; a padding file
// given without a path is written without one.
type fileOut struct {
	Attr        string   `bencode:"attr,omitempty"`
	Length      int64    `bencode:"length"`
	Path        []string `bencode:"path,omitempty"`
	SHA1        []byte   `bencode:"sha1,omitempty"`
	SymlinkPath []string `bencode:"symlink path,omitempty"`
}

// Parse decodes and validates a .torrent file (BEP 3, with BEP 12 tiers,
// BEP 19 web seeds, BEP 27 private flag and BEP 47 file attributes). Hybrid
// v1+v2 torrents parse as v1: their v2 keys are ignored and the info hash
// is the v1 one. Everything is checked before it is returned: sizes, piece
// counts, and every path (see ValidatePath).
//
// Optional keys of the wrong type are ignored rather than fatal: a
// malformed announce-list, url-list, creation date, comment, created by,
// encoding, source or private flag; a creation date that is not a
// positive integer is treated as absent. A "private" integer other than 0 marks
// the torrent private, as libtorrent reads it. Where "name.utf-8" or
// "path.utf-8" is present it is preferred, as libtorrent and Transmission
// do.
func Parse(data []byte) (*MetaInfo, error) {
	if len(data) > MaxTorrentSize {
		return nil, fmt.Errorf("metainfo: torrent file of %d bytes is larger than the limit of %d", len(data), MaxTorrentSize)
	}
	var top torrentIn
	if err := decodeOptions.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("metainfo: %w", err)
	}
	if len(top.Info) == 0 {
		return nil, errors.New("metainfo: no info dictionary")
	}
	info, err := decodeInfo(top.Info)
	if err != nil {
		return nil, fmt.Errorf("metainfo: info: %w", err)
	}
	mi := &MetaInfo{
		Info:      *info,
		InfoBytes: top.Info,
		InfoHash:  sha1.Sum(top.Info),
		Announce:  optionalString(top.Announce),
		Comment:   optionalString(top.Comment),
		CreatedBy: optionalString(top.CreatedBy),
		Encoding:  optionalString(top.Encoding),
	}
	mi.AnnounceList = parseTiers(top.AnnounceList)
	mi.URLList = parseURLList(top.URLList)
	var date int64
	if decodeOptions.Unmarshal(top.CreationDate, &date) == nil && date > 0 {
		mi.CreationDate = time.Unix(date, 0)
	}
	return mi, nil
}

// Load reads and parses the .torrent file at path.
func Load(path string) (*MetaInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("metainfo: %w", err)
	}
	defer f.Close()
	// Read one byte past the limit so that Parse reports an oversized file
	// without our reading all of it.
	data, err := io.ReadAll(io.LimitReader(f, MaxTorrentSize+1))
	if err != nil {
		return nil, fmt.Errorf("metainfo: %w", err)
	}
	mi, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return mi, nil
}

// decodeInfo decodes and validates the info dictionary. Unlike the
// optional top-level keys, every key here that a client relies on must
// have the right type.
func decodeInfo(raw []byte) (*Info, error) {
	var in infoIn
	if err := decodeOptions.Unmarshal(raw, &in); err != nil {
		return nil, err
	}
	if in.Pieces == nil {
		if in.MetaVersion != nil {
			return nil, errors.New("v2-only torrent (no v1 \"pieces\"); only v1 and hybrid torrents are supported")
		}
		return nil, errors.New("missing \"pieces\"")
	}
	if in.Name == nil {
		return nil, errors.New("missing \"name\"")
	}
	if in.PieceLength == nil {
		return nil, errors.New("missing \"piece length\"")
	}
	if len(in.Pieces)%20 != 0 {
		return nil, fmt.Errorf("\"pieces\" is %d bytes, not a multiple of 20", len(in.Pieces))
	}
	info := &Info{
		Name:        *in.Name,
		PieceLength: *in.PieceLength,
		Source:      optionalString(in.Source),
	}
	if utf8Name := optionalString(in.NameUTF8); utf8Name != "" {
		info.Name = utf8Name
	}
	var private int64
	if decodeOptions.Unmarshal(in.Private, &private) == nil && private != 0 {
		info.Private = true
	}
	info.Pieces = make([]PieceHash, len(in.Pieces)/20)
	for i := range info.Pieces {
		copy(info.Pieces[i][:], in.Pieces[i*20:])
	}

	switch {
	case in.Length != nil && in.Files != nil:
		return nil, errors.New("both \"length\" and \"files\" present")
	case in.Length != nil:
		info.SingleFile = true
		info.Files = []File{{
			Length:      *in.Length,
			Attr:        in.Attr,
			SymlinkPath: nilIfEmpty(in.SymlinkPath),
			SHA1:        optionalSHA1(in.SHA1),
		}}
	case in.Files != nil:
		if len(in.Files) > MaxFiles {
			return nil, fmt.Errorf("torrent lists %d files, at most %d allowed", len(in.Files), MaxFiles)
		}
		info.Files = make([]File, len(in.Files))
		for i, fi := range in.Files {
			f := File{
				Path:        nilIfEmpty(fi.Path),
				Attr:        fi.Attr,
				SymlinkPath: nilIfEmpty(fi.SymlinkPath),
				SHA1:        optionalSHA1(fi.SHA1),
			}
			var utf8Path []string
			if decodeOptions.Unmarshal(fi.PathUTF8, &utf8Path) == nil && len(utf8Path) > 0 {
				f.Path = utf8Path
			}
			if fi.Length != nil {
				f.Length = *fi.Length
			} else if !f.IsSymlink() {
				// BEP 47 lets symlinks omit their (zero) length; nothing else.
				return nil, fmt.Errorf("file %d (%q): missing \"length\"", i, joinForError(f.Path))
			}
			info.Files[i] = f
		}
	default:
		return nil, errors.New("neither \"length\" nor \"files\" present")
	}
	if err := info.validate(); err != nil {
		return nil, err
	}
	return info, nil
}

// nilIfEmpty makes an empty list nil, so that a parsed File compares equal
// to one that SetInfo wrote back (which omits empty lists).
func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// optionalString decodes raw as a string, or returns "" if it is absent or
// not a string.
func optionalString(raw bencode.RawMessage) string {
	var s string
	if len(raw) == 0 || decodeOptions.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// optionalSHA1 decodes BEP 47's per-file "sha1". It is only a hint, so a
// value that is not a 20-byte string is dropped rather than fatal.
func optionalSHA1(raw bencode.RawMessage) []byte {
	var b []byte
	if len(raw) == 0 || decodeOptions.Unmarshal(raw, &b) != nil || len(b) != 20 {
		return nil
	}
	return b
}

// parseTiers reads BEP 12's announce-list: a list of tiers, each a list of
// URLs. Entries that are not strings, empty URLs and empty tiers are
// dropped; if the value is not a list at all it is ignored (nil).
func parseTiers(raw bencode.RawMessage) [][]string {
	var tiers []any
	if len(raw) == 0 || decodeOptions.Unmarshal(raw, &tiers) != nil {
		return nil
	}
	var out [][]string
	for _, t := range tiers {
		items, ok := t.([]any)
		if !ok {
			continue
		}
		var tier []string
		for _, item := range items {
			if u, ok := item.(string); ok && u != "" {
				tier = append(tier, u)
			}
		}
		if len(tier) > 0 {
			out = append(out, tier)
		}
	}
	return out
}

// parseURLList reads BEP 19's url-list, which may be one string or a list
// of strings. Empty and non-string entries are dropped.
func parseURLList(raw bencode.RawMessage) []string {
	var v any
	if len(raw) == 0 || decodeOptions.Unmarshal(raw, &v) != nil {
		return nil
	}
	var out []string
	switch v := v.(type) {
	case string:
		if v != "" {
			out = append(out, v)
		}
	case []any:
		for _, item := range v {
			if u, ok := item.(string); ok && u != "" {
				out = append(out, u)
			}
		}
	}
	return out
}

// SetInfo validates info, encodes it as canonical bencode (keys sorted,
// only the keys described on infoOut) and stores it in mi with its
// InfoBytes and InfoHash.
func (mi *MetaInfo) SetInfo(info Info) error {
	if err := info.validate(); err != nil {
		return fmt.Errorf("metainfo: %w", err)
	}
	out := infoOut{
		Name:        info.Name,
		PieceLength: info.PieceLength,
		Pieces:      make([]byte, 0, 20*len(info.Pieces)),
		Source:      info.Source,
	}
	for _, p := range info.Pieces {
		out.Pieces = append(out.Pieces, p[:]...)
	}
	if info.Private {
		out.Private = 1
	}
	if info.SingleFile {
		f := info.Files[0]
		length := f.Length
		out.Length = &length
		out.Attr, out.SymlinkPath, out.SHA1 = f.Attr, f.SymlinkPath, f.SHA1
	} else {
		out.Files = make([]fileOut, len(info.Files))
		for i, f := range info.Files {
			out.Files[i] = fileOut{
				Attr: f.Attr, Length: f.Length, Path: f.Path,
				SHA1: f.SHA1, SymlinkPath: f.SymlinkPath,
			}
		}
	}
	raw, err := bencode.Marshal(out)
	if err != nil {
		return fmt.Errorf("metainfo: encoding info: %w", err)
	}
	mi.Info = cloneInfo(info)
	mi.InfoBytes = raw
	mi.InfoHash = sha1.Sum(raw)
	return nil
}

// cloneInfo copies the slices of info so that the caller's later changes
// cannot make Info disagree with InfoBytes.
func cloneInfo(info Info) Info {
	info.Pieces = append([]PieceHash(nil), info.Pieces...)
	files := make([]File, len(info.Files))
	for i, f := range info.Files {
		f.Path = append([]string(nil), f.Path...)
		f.SymlinkPath = append([]string(nil), f.SymlinkPath...)
		if f.SHA1 != nil {
			f.SHA1 = append([]byte(nil), f.SHA1...)
		}
		files[i] = f
	}
	info.Files = files
	return info
}

// Marshal encodes the whole .torrent file, deterministically: keys sorted,
// InfoBytes written verbatim (so a parsed torrent keeps its info hash).
//
// Trackers: empty URLs and empty tiers are dropped. "announce" is
// mi.Announce, or the first URL of the first tier if that is empty (BEP 12
// asks for it, for clients that know only BEP 3). "announce-list" is
// written whenever it holds a URL, even a single one (as Transmission does;
// mktorrent writes it only for two or more), so that Parse(Marshal(mi))
// gives back the same AnnounceList. "url-list" is always a list;
// "creation date" is written only when set (and after 1970).
func (mi *MetaInfo) Marshal() ([]byte, error) {
	if len(mi.InfoBytes) == 0 {
		return nil, errors.New("metainfo: marshal: no info dictionary (call SetInfo first)")
	}
	out := torrentOut{
		Announce:  mi.Announce,
		Comment:   mi.Comment,
		CreatedBy: mi.CreatedBy,
		Encoding:  mi.Encoding,
		Info:      mi.InfoBytes,
	}
	for _, tier := range mi.AnnounceList {
		var kept []string
		for _, u := range tier {
			if u != "" {
				kept = append(kept, u)
			}
		}
		if len(kept) > 0 {
			out.AnnounceList = append(out.AnnounceList, kept)
		}
	}
	if out.Announce == "" && len(out.AnnounceList) > 0 {
		out.Announce = out.AnnounceList[0][0]
	}
	for _, u := range mi.URLList {
		if u != "" {
			out.URLList = append(out.URLList, u)
		}
	}
	if !mi.CreationDate.IsZero() && mi.CreationDate.Unix() > 0 {
		out.CreationDate = mi.CreationDate.Unix()
	}
	data, err := bencode.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("metainfo: marshal: %w", err)
	}
	return data, nil
}
