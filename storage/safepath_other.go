//go:build !linux

package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// openBelow opens fe's file below root. Every component is checked with
// Lstat first so that a symlink planted in the tree is refused rather
// than followed, and the opened file must be the one Lstat sees at the
// path afterwards. The os.Root underneath guarantees that even a
// directory swapped for a symlink between the checks cannot lead outside
// the download directory (it could still lead elsewhere inside it, which
// the Linux version rules out).
func (s *FileStorage) openBelow(root *os.Root, fe *fileEntry, writable bool) (*os.File, error) {
	parts := strings.Split(fe.rel, string(filepath.Separator))
	for i := 1; i < len(parts); i++ {
		dir := filepath.Join(parts[:i]...)
		if err := s.checkDir(root, fe, dir, writable); err != nil {
			return nil, err
		}
	}
	created := false
	switch fi, err := root.Lstat(fe.rel); {
	case errors.Is(err, fs.ErrNotExist):
		if !writable {
			return nil, fmt.Errorf("%s: %w", fe.display, ErrMissing)
		}
		created = true
	case err != nil:
		return nil, fmt.Errorf("%s: %w", fe.display, unwrapPath(err))
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, fmt.Errorf("refusing to use %s: it is a symlink", fe.display)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("refusing to use %s: not a regular file (%v)", fe.display, fi.Mode().Type())
	}
	afterCheck(fe.rel)
	flag, perm := os.O_RDONLY, fs.FileMode(0)
	if writable {
		flag, perm = os.O_RDWR|os.O_CREATE, filePerm
		if fe.exec {
			perm = execPerm
		}
	}
	f, err := root.OpenFile(fe.rel, flag, perm)
	if err != nil {
		if !writable && errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", fe.display, ErrMissing)
		}
		return nil, fmt.Errorf("open %s: %w", fe.display, unwrapPath(err))
	}
	// os.Root follows a symlink that stays inside the root, so one swapped
	// in between the Lstat above and the open would be followed: check that
	// what we opened is the very file that now sits at the path.
	opened, err1 := f.Stat()
	atPath, err2 := root.Lstat(fe.rel)
	if err1 != nil || err2 != nil || !opened.Mode().IsRegular() || !os.SameFile(opened, atPath) {
		f.Close()
		return nil, fmt.Errorf("refusing to use %s: it changed while being opened (symlink or special file?)", fe.display)
	}
	if created {
		s.markDirDirty(filepath.Dir(fe.rel))
	}
	return f, nil
}

// checkDir makes sure dir (relative to the root) is a real directory,
// creating it when create is set.
func (s *FileStorage) checkDir(root *os.Root, fe *fileEntry, dir string, create bool) error {
	full := filepath.Join(s.rootDir, dir)
	fi, err := root.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if !create {
			return fmt.Errorf("%s: directory %s: %w", fe.display, full, ErrMissing)
		}
		if err := root.Mkdir(dir, dirPerm); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: create directory %s: %w", fe.display, full, unwrapPath(err))
		}
		s.markDirDirty(filepath.Dir(dir))
		fi, err = root.Lstat(dir)
	}
	switch {
	case err != nil:
		return fmt.Errorf("%s: directory %s: %w", fe.display, full, unwrapPath(err))
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("refusing to use %s: %s is a symlink", fe.display, full)
	case !fi.IsDir():
		return fmt.Errorf("refusing to use %s: %s is not a directory", fe.display, full)
	}
	afterCheck(dir)
	return nil
}

// removeBelow deletes fe's file if it is a regular file, after checking
// every directory above it as openBelow does. A missing file or directory
// is not an error. os.Root keeps the removal inside the download
// directory even if something is swapped after the checks.
func (s *FileStorage) removeBelow(root *os.Root, fe *fileEntry) error {
	parts := strings.Split(fe.rel, string(filepath.Separator))
	for i := 1; i < len(parts); i++ {
		err := s.checkDir(root, fe, filepath.Join(parts[:i]...), false)
		if errors.Is(err, ErrMissing) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	fi, err := root.Lstat(fe.rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("%s: %w", fe.display, unwrapPath(err))
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("not removing %s: it is a symlink", fe.display)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("not removing %s: not a regular file (%v)", fe.display, fi.Mode().Type())
	}
	if err := root.Remove(fe.rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", fe.display, unwrapPath(err))
	}
	return nil
}
