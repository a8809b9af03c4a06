package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"shoal/metainfo"
)

// maxListedFiles bounds the file list of "shoal info": a torrent may list
// hundreds of thousands of files, and the rest is one line saying how many.
const maxListedFiles = 100

// Every string read from a torrent or magnet link is untrusted and goes
// through printable before it reaches the terminal.

func writeTorrentText(out io.Writer, mi *metainfo.MetaInfo) error {
	w := bufio.NewWriter(out)
	info := &mi.Info
	total := info.TotalLength()
	field(w, "Name", printable(info.Name))
	field(w, "Info hash", mi.InfoHash.String())
	field(w, "Size", fmt.Sprintf("%s (%d bytes)", formatSize(total), total))
	field(w, "Pieces", fmt.Sprintf("%d × %s", info.NumPieces(), formatSize(info.PieceLength)))
	field(w, "Private", yesNo(info.Private))
	if !mi.CreationDate.IsZero() {
		field(w, "Created", mi.CreationDate.UTC().Format(time.DateTime+" UTC"))
	}
	if mi.CreatedBy != "" {
		field(w, "Created by", printable(mi.CreatedBy))
	}
	if mi.Comment != "" {
		field(w, "Comment", printable(mi.Comment))
	}
	if info.Source != "" {
		field(w, "Source", printable(info.Source))
	}
	writeTiers(w, torrentTiers(mi))
	writeList(w, "Web seeds", mi.URLList)
	writeFiles(w, info)
	field(w, "Magnet", printable(mi.Magnet().String()))
	return w.Flush()
}

func writeMagnetText(out io.Writer, m *metainfo.Magnet) error {
	w := bufio.NewWriter(out)
	name := printable(m.Name)
	if name == "" {
		name = "(not given)"
	}
	field(w, "Name", name)
	if m.HasV1 {
		field(w, "Info hash", m.InfoHash.String())
	}
	if len(m.V2Multihash) > 0 {
		field(w, "v2 hash", fmt.Sprintf("%x (multihash)", m.V2Multihash))
	}
	tiers := make([][]string, 0, len(m.Trackers))
	for _, tr := range m.Trackers {
		tiers = append(tiers, []string{tr})
	}
	writeTiers(w, tiers)
	writeList(w, "Web seeds", m.WebSeeds)
	writeList(w, "Peers", m.Peers)
	field(w, "Magnet", printable(m.String()))
	return w.Flush()
}

// field writes one "Label:  value" line with the values aligned.
func field(w io.Writer, label, value string) {
	fmt.Fprintf(w, "%-11s %s\n", label+":", value)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func writeTiers(w io.Writer, tiers [][]string) {
	if len(tiers) == 0 {
		field(w, "Trackers", "none")
		return
	}
	fmt.Fprintln(w, "Trackers:")
	for i, tier := range tiers {
		urls := make([]string, len(tier))
		for j, u := range tier {
			urls[j] = printable(u)
		}
		fmt.Fprintf(w, "  Tier %d: %s\n", i+1, strings.Join(urls, ", "))
	}
}

// writeList writes a labelled list, one item per line, or nothing when the
// list is empty.
func writeList(w io.Writer, label string, items []string) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintf(w, "%s:\n", label)
	for _, item := range items {
		fmt.Fprintf(w, "  %s\n", printable(item))
	}
}

// writeFiles lists the files as an indented tree: a directory line is printed
// when a file's directory differs from the previous file's, so files of one
// directory appear together under it (torrents list files grouped by
// directory, and if one is not, a directory is simply shown again). BEP 47
// padding files are not real files and are left out.
func writeFiles(w io.Writer, info *metainfo.Info) {
	var files []metainfo.File
	for _, f := range info.Files {
		if !f.IsPadding() {
			files = append(files, f)
		}
	}
	fmt.Fprintf(w, "Files (%d):\n", len(files))
	if info.SingleFile {
		if len(files) > 0 {
			fmt.Fprintf(w, "  %s (%s)\n", printable(info.Name), formatSize(files[0].Length))
		}
		return
	}
	fmt.Fprintf(w, "  %s/\n", printable(info.Name))
	var prevDir []string
	for i, f := range files {
		if i == maxListedFiles {
			fmt.Fprintf(w, "  ... %d more\n", len(files)-maxListedFiles)
			return
		}
		if len(f.Path) == 0 {
			continue // Parse rejects this; never index an empty path.
		}
		dir, name := f.Path[:len(f.Path)-1], f.Path[len(f.Path)-1]
		common := 0
		for common < len(dir) && common < len(prevDir) && dir[common] == prevDir[common] {
			common++
		}
		for depth := common; depth < len(dir); depth++ {
			fmt.Fprintf(w, "%s%s/\n", indent(depth+2), printable(dir[depth]))
		}
		fmt.Fprintf(w, "%s%s (%s)\n", indent(len(dir)+2), printable(name), formatSize(f.Length))
		prevDir = dir
	}
}

func indent(depth int) string { return strings.Repeat("  ", depth) }
