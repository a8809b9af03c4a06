package main

import (
	"crypto/sha1"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"shoal/bencode"
	"shoal/metainfo"
	"shoal/peerwire"
)

// outsideTree is a directory outside the download directory, with a file
// in it, that a test compares before and after running shoal.
type outsideTree struct {
	dir, victim, before string
}

func newOutsideTree(t *testing.T) *outsideTree {
	t.Helper()
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &outsideTree{dir: dir, victim: victim, before: treeListing(t, dir)}
}

func (o *outsideTree) check(t *testing.T) {
	t.Helper()
	if after := treeListing(t, o.dir); after != o.before {
		t.Errorf("the directory outside changed:\nbefore:\n%s\nafter:\n%s", o.before, after)
	}
}

// treeListing describes every entry below dir, symlinks not followed.
func treeListing(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v", p, fi.Mode())
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %x", sha1.Sum(data))
		}
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// hostileInfoBytes returns a bencoded info dictionary with the given name
// and file paths (nil: single-file), made straight with package bencode
// since the builder refuses such paths. extra entries are added to the
// file list as they are.
func hostileInfoBytes(t *testing.T, name string, paths [][]string, extra ...map[string]any) []byte {
	t.Helper()
	info := map[string]any{"name": name, "piece length": 16384, "pieces": strings.Repeat("x", 20)}
	if paths == nil {
		info["length"] = 1
	} else {
		var files []any
		for _, p := range paths {
			files = append(files, map[string]any{"length": 1, "path": p})
		}
		for _, f := range extra {
			files = append(files, f)
		}
		info["files"] = files
	}
	data, err := bencode.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// hostileTorrent writes a .torrent around hostileInfoBytes and returns its
// file name.
func hostileTorrent(t *testing.T, name string, paths [][]string, extra ...map[string]any) string {
	t.Helper()
	data, err := bencode.Marshal(map[string]any{"info": bencode.RawMessage(hostileInfoBytes(t, name, paths, extra...))})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "hostile.torrent")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGetRefusesUnsafePaths runs shoal get on hand-made hostile torrents
// (the same attacks as metainfo's TestParseRejectsUnsafePaths): it exits 1
// with one line naming the offending path, creates no download directory
// and changes nothing outside.
func TestGetRefusesUnsafePaths(t *testing.T) {
	long := strings.Repeat("p", 250)
	deep := make([]string, 20)
	for i := range deep {
		deep[i] = long
	}
	tests := []struct {
		name  string
		tname string
		paths [][]string
		extra []map[string]any
		want  string
	}{
		{"dot-dot", "top", [][]string{{"..", "..", "victim"}}, nil, `unsafe file path "../../victim"`},
		{"absolute component", "top", [][]string{{"/etc/passwd"}}, nil, `unsafe file path "/etc/passwd"`},
		{"absolute by empty component", "top", [][]string{{"", "etc", "passwd"}}, nil, `unsafe file path "/etc/passwd"`},
		{"NUL", "top", [][]string{{"a\x00b"}}, nil, `unsafe file path "a\x00b"`},
		{"dot", "top", [][]string{{".", "x"}}, nil, `unsafe file path "./x"`},
		{"file is a directory of another", "top", [][]string{{"a"}, {"a", "b"}}, nil, `path "a" is both a file and a directory`},
		{"component of 256 bytes", "top", [][]string{{strings.Repeat("c", 256)}}, nil, "component of 256 bytes"},
		{"path longer than PATH_MAX", "top", [][]string{deep}, nil, "bytes long, at most 4095"},
		{"symlink target escaping", "top", [][]string{{"x"}}, []map[string]any{{"attr": "l", "length": 0, "path": []string{"l"}, "symlink path": []string{"..", ".."}}}, `symlink target: unsafe file path "../.."`},
		{"name ..", "..", nil, nil, `unsafe torrent name ".."`},
		{"name empty", "", [][]string{{"x"}}, nil, `unsafe torrent name ""`},
		{"name absolute", "/tmp/shoal-abs", [][]string{{"x"}}, nil, `unsafe torrent name "/tmp/shoal-abs"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := newOutsideTree(t)
			torrent := hostileTorrent(t, tc.tname, tc.paths, tc.extra...)
			dl := filepath.Join(t.TempDir(), "dl")
			r := shoalTimeout(t, 30*time.Second, "get", torrent, "-o", dl, "--data-dir", t.TempDir(),
				"--port", "0", "--bind", "127.0.0.1", "--no-dht")
			assertFailure(t, r, tc.want)
			if _, err := os.Lstat(dl); err == nil {
				t.Errorf("the download directory %s was created", dl)
			}
			out.check(t)
		})
	}
}

// TestGetRefusesPlantedSymlink runs shoal get on a valid torrent into a
// download directory where the torrent's file, or its top directory, is a
// symlink to a place outside: shoal exits 1 with one line naming the
// symlink, and nothing outside changes. (The symlink is found while the
// existing data is checked, before anything is downloaded; storage's
// TestPlantedSymlink covers writes.)
func TestGetRefusesPlantedSymlink(t *testing.T) {
	single := makeContent(t, "x.bin", 16<<10, 40_000)
	multi := makeContent(t, "multi", 16<<10, 1000, 2000)
	tests := []struct {
		name   string
		c      content
		target func(o *outsideTree) string
	}{
		{"file to an outside file", single, func(o *outsideTree) string { return o.victim }},
		{"file to an outside name that does not exist", single, func(o *outsideTree) string { return filepath.Join(o.dir, "new") }},
		{"torrent directory to outside", multi, func(o *outsideTree) string { return o.dir }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := newOutsideTree(t)
			dl := t.TempDir()
			link := filepath.Join(dl, tc.c.mi.Info.Name)
			if err := os.Symlink(tc.target(out), link); err != nil {
				t.Fatal(err)
			}
			// --json keeps status lines off stderr, so that the error is
			// the only line there.
			r := shoalTimeout(t, 60*time.Second, append(getArgs(tc.c.torrent, dl, t.TempDir()), "--json")...)
			assertFailure(t, r, link, "symlink")
			out.check(t)
		})
	}
}

// serveHostileMetadata accepts peers on 127.0.0.1 and offers them info as
// the metadata of the torrent ih (BEP 9, over BEP 10), whatever it holds.
// It returns the listening address.
func serveHostileMetadata(t *testing.T, ih metainfo.InfoHash, info []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serveMetadataConn(c, ih, info)
			}()
		}
	}()
	return ln.Addr().String()
}

func serveMetadataConn(c net.Conn, ih metainfo.InfoHash, info []byte) {
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, _, err := peerwire.ReadHandshakeStart(c); err != nil {
		return
	}
	var res peerwire.Reserved
	res.SetExtended(true)
	if peerwire.WriteHandshake(c, peerwire.Handshake{Reserved: res, InfoHash: ih, PeerID: peerwire.NewPeerID("-XX0000-")}) != nil {
		return
	}
	if _, err := peerwire.ReadPeerID(c); err != nil {
		return
	}
	const ourID = 3
	hs := peerwire.ExtendedHandshake{M: map[string]int{peerwire.ExtMetadata: ourID}, MetadataSize: len(info)}
	payload, _ := hs.Marshal()
	c.Write(peerwire.AppendMessage(nil, peerwire.Message{ID: peerwire.Extended, Payload: payload}))
	r := peerwire.NewReader(c, peerwire.ReaderOptions{})
	theirID := uint8(0)
	for {
		m, err := r.ReadMessage()
		if err != nil {
			return
		}
		if m.ID != peerwire.Extended {
			continue
		}
		if m.ExtendedID == 0 {
			theirs, _ := peerwire.ParseExtendedHandshake(m.Payload)
			theirID, _ = theirs.ID(peerwire.ExtMetadata)
			continue
		}
		req, err := peerwire.ParseMetadataMessage(m.Payload)
		if err != nil || req.Type != peerwire.MetadataRequest {
			continue
		}
		begin := req.Piece * peerwire.MetadataPieceSize
		reply := peerwire.MetadataMessage{Type: peerwire.MetadataData, Piece: req.Piece, TotalSize: len(info),
			Data: info[begin : begin+peerwire.MetadataPieceLen(len(info), req.Piece)]}
		out, err := reply.Marshal()
		if err != nil {
			return
		}
		c.Write(peerwire.AppendMessage(nil, peerwire.Message{ID: peerwire.Extended, ExtendedID: theirID, Payload: out}))
	}
}

// TestGetMagnetRefusesUnsafeMetadata fetches, for a magnet link, metadata
// whose info hash is right but whose paths are hostile (a peer can send
// whatever matches the hash it was asked for, and anyone can make a magnet
// link for any info dictionary): shoal get exits 1 with one line naming
// the path, and writes nothing.
func TestGetMagnetRefusesUnsafeMetadata(t *testing.T) {
	tests := []struct {
		name  string
		tname string
		paths [][]string
		want  string
	}{
		{"dot-dot", "top", [][]string{{"..", "..", "victim"}}, `unsafe file path "../../victim"`},
		{"name absolute", "/tmp/shoal-abs", nil, `unsafe torrent name "/tmp/shoal-abs"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := newOutsideTree(t)
			info := hostileInfoBytes(t, tc.tname, tc.paths)
			ih := metainfo.InfoHash(sha1.Sum(info))
			addr := serveHostileMetadata(t, ih, info)
			dl := filepath.Join(t.TempDir(), "dl")
			link := "magnet:?xt=urn:btih:" + ih.String() + "&x.pe=" + addr
			r := shoalTimeout(t, 60*time.Second, append(getArgs(link, dl, t.TempDir()), "--json")...)
			assertFailure(t, r, tc.want, ih.String())
			if _, err := os.Lstat(dl); err == nil {
				t.Errorf("the download directory %s was created", dl)
			}
			out.check(t)
		})
	}
}
