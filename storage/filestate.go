package storage

import (
	"os"
	"slices"

	"shoal/metainfo"
)

// FileState is what we remember about a file on disk to notice, after a
// restart, that someone changed it while we were not running.
type FileState struct {
	Size    int64 // bytes; -1 if the file is missing or not a regular file
	ModTime int64 // modification time in Unix nanoseconds; 0 if missing
}

// CurrentFileStates returns the state of each of info's files below root
// now, in Info.Files order. Padding files, which are never on disk, and
// paths that are missing, unsafe, or not regular files (a symlink is not
// followed) report Size -1.
func CurrentFileStates(root string, info *metainfo.Info) []FileState {
	states := make([]FileState, len(info.Files))
	for j, f := range info.Files {
		states[j] = FileState{Size: -1}
		if f.IsPadding() {
			continue
		}
		path, err := info.FilePath(root, j)
		if err != nil {
			continue
		}
		fi, err := os.Lstat(path)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		states[j] = FileState{Size: fi.Size(), ModTime: fi.ModTime().UnixNano()}
	}
	return states
}

// PiecesToRecheck returns, in increasing order, the pieces that touch a
// file whose state differs between saved (from the resume record) and now
// (CurrentFileStates): the verified bits of those pieces can no longer be
// trusted. If the lists do not match info's files at all, every piece is
// returned.
func PiecesToRecheck(info *metainfo.Info, saved, now []FileState) []int {
	layout := metainfo.NewLayout(info)
	if len(saved) != len(info.Files) || len(now) != len(info.Files) {
		all := make([]int, layout.NumPieces())
		for i := range all {
			all[i] = i
		}
		return all
	}
	var out []int
	lastAdded := -1
	for j := range info.Files {
		if saved[j] == now[j] {
			continue
		}
		first, end := layout.FilePieces(j)
		// Files come in piece order, so the ranges are non-decreasing and
		// consecutive files share at most their boundary piece.
		for i := max(first, lastAdded+1); i < end; i++ {
			out = append(out, i)
			lastAdded = i
		}
	}
	return slices.Clip(out)
}
