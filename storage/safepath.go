package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Permissions for what we create; the process umask still applies.
const (
	dirPerm  = 0o755
	filePerm = 0o666
	execPerm = 0o777 // BEP 47 'x' files
)

// openRoot returns the handle on the download directory, opening it (and,
// with create, making it) on first use. Opening lazily means a torrent that
// never writes creates nothing.
func (s *FileStorage) openRoot(create bool) (*os.Root, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if s.root != nil {
		return s.root, nil
	}
	if create {
		if err := os.MkdirAll(s.rootDir, dirPerm); err != nil {
			return nil, fmt.Errorf("create download directory %s: %w", s.rootDir, unwrapPath(err))
		}
	}
	r, err := os.OpenRoot(s.rootDir)
	if err != nil {
		if !create && errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("download directory %s: %w", s.rootDir, ErrMissing)
		}
		return nil, fmt.Errorf("open download directory %s: %w", s.rootDir, unwrapPath(err))
	}
	s.root = r
	return r, nil
}

// openFile opens file index file below the download directory. With
// writable it creates the file and its missing directories; without, a
// missing file or directory gives ErrMissing. Every component is checked
// with Lstat first so that a symlink planted in the tree is refused rather
// than followed, and the opened file must be the one Lstat sees at the
// path afterwards. The os.Root underneath guarantees that even a directory
// swapped for a symlink between the checks cannot lead outside the
// download directory.
func (s *FileStorage) openFile(file int, writable bool) (*os.File, error) {
	fe := &s.files[file]
	root, err := s.openRoot(writable)
	if err != nil {
		return nil, err
	}
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
	return nil
}

// unwrapPath strips an *fs.PathError so that our message, which names the
// full path, does not repeat the relative one.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
