package metainfo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// maxBuildFiles bounds how many files one Build may list, and
// maxBuildDirs how many directories it may enter, so that a directory tree
// multiplied by symlinks (d1 holding two links to d2, d2 two links to d3,
// ...) cannot exhaust memory or time.
const (
	maxBuildFiles = 1 << 20
	maxBuildDirs  = 1 << 20
)

// sourceFile is one regular file found by the walk: where to read it from
// and what the torrent will call it.
type sourceFile struct {
	// osPath is the path to open on this machine (symlinks not resolved;
	// opening follows them).
	osPath string
	// components is the torrent path below the torrent's name; empty for
	// a single-file torrent.
	components []string
	// length is the size seen during the walk; hashing must see the same.
	length int64
	// offset is where the file starts in the concatenation of all files.
	offset int64
}

// walkResult is what the walk found below a root.
type walkResult struct {
	// name is the torrent name: the base name of the root.
	name string
	// single is true when the root is a regular file.
	single bool
	// files holds the files in torrent order.
	files []sourceFile
	// total is the sum of the file lengths.
	total int64
}

// walkRoot lists the files of a torrent rooted at root, in torrent order,
// applying the policy documented on Build.
// It stops with ctx.Err() if ctx ends.
func walkRoot(ctx context.Context, root string) (*walkResult, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("metainfo: build %q: %w", root, err)
	}
	name := filepath.Base(abs)
	if err := ValidatePath([]string{name}); err != nil {
		return nil, fmt.Errorf("metainfo: build %q: torrent name: %w", root, err)
	}
	// os.Stat follows a symlink given as root, as mktorrent does.
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("metainfo: build: %w", err)
	}
	res := &walkResult{name: name}
	switch {
	case st.Mode().IsRegular():
		res.single = true
		res.files = []sourceFile{{osPath: root, length: st.Size()}}
		res.total = st.Size()
	case st.IsDir():
		w := &walker{ctx: ctx, res: res}
		if err := w.walkDir(root, nil, []os.FileInfo{st}); err != nil {
			return nil, err
		}
		if len(res.files) == 0 {
			return nil, fmt.Errorf("metainfo: build: directory %q contains no files", root)
		}
	default:
		return nil, fmt.Errorf("metainfo: build: %q is not a regular file or directory (mode %v)", root, st.Mode().Type())
	}
	if res.total == 0 {
		// A torrent of zero bytes has no pieces; clients such as libtorrent
		// refuse to load one.
		return nil, fmt.Errorf("metainfo: build: %q holds no data (all files are empty)", root)
	}
	return res, nil
}

// walker accumulates files during a directory walk.
type walker struct {
	// ctx ends the walk early.
	ctx context.Context
	// res receives the files found.
	res *walkResult
	// dirs counts the directories entered.
	dirs int
}

// walkDir lists the directory dir, whose torrent path is prefix, and
// descends into subdirectories. ancestors holds the directories on the
// current path (root first, dir last) to detect symlink loops.
//
// os.ReadDir returns entries sorted by name bytewise, and a name cannot be
// both a file and a directory, so this depth-first walk yields files sorted
// by path components bytewise.
func (w *walker) walkDir(dir string, prefix []string, ancestors []os.FileInfo) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if w.dirs++; w.dirs > maxBuildDirs {
		return fmt.Errorf("metainfo: build: more than %d directories below the root", maxBuildDirs)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("metainfo: build: %w", err)
	}
	for _, e := range entries {
		osPath := filepath.Join(dir, e.Name())
		components := append(append([]string(nil), prefix...), e.Name())
		var st os.FileInfo
		if e.Type()&fs.ModeSymlink != 0 {
			st, err = os.Stat(osPath)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("metainfo: build: broken symlink %q", osPath)
				}
				if errors.Is(err, syscall.ELOOP) {
					return fmt.Errorf("metainfo: build: symlink loop at %q", osPath)
				}
				return fmt.Errorf("metainfo: build: symlink %q: %w", osPath, err)
			}
		} else {
			st, err = e.Info()
			if err != nil {
				return fmt.Errorf("metainfo: build: %w", err)
			}
		}
		switch {
		case st.IsDir():
			for _, a := range ancestors {
				if os.SameFile(a, st) {
					return fmt.Errorf("metainfo: build: symlink loop at %q (leads back to an enclosing directory)", osPath)
				}
			}
			if err := w.walkDir(osPath, components, append(ancestors, st)); err != nil {
				return err
			}
		case st.Mode().IsRegular():
			if err := ValidatePath(components); err != nil {
				return fmt.Errorf("metainfo: build: file %q: %w", osPath, err)
			}
			if len(w.res.files) >= maxBuildFiles {
				return fmt.Errorf("metainfo: build: more than %d files below the root", maxBuildFiles)
			}
			w.res.files = append(w.res.files, sourceFile{
				osPath:     osPath,
				components: components,
				length:     st.Size(),
				offset:     w.res.total,
			})
			w.res.total += st.Size()
		default:
			return fmt.Errorf("metainfo: build: %q is not a regular file or directory (mode %v)", osPath, st.Mode().Type())
		}
	}
	return nil
}
