package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"shoal/metainfo"
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

// testHookAfterCheck, when set by a test, runs right after a component of
// a torrent path has been checked (not a symlink, the right type) and
// before it is used, with that component's path relative to the download
// directory: a test swaps a symlink in at that moment to prove that what
// was checked is what gets used.
var testHookAfterCheck func(rel string)

func afterCheck(rel string) {
	if testHookAfterCheck != nil {
		testHookAfterCheck(rel)
	}
}

// openFile opens file index file below the download directory. With
// writable it creates the file and its missing directories; without, a
// missing file or directory gives ErrMissing. A symlink anywhere below the
// download directory, or a path component of the wrong type, is refused
// with an error naming it (see openBelow for each platform).
func (s *FileStorage) openFile(file int, writable bool) (*os.File, error) {
	fe := &s.files[file]
	root, err := s.openRoot(writable)
	if err != nil {
		return nil, err
	}
	return s.openBelow(root, fe, writable)
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

// RemoveFiles deletes info's files below the download directory root, then
// the directories they were in where those are left empty: a torrent
// removed together with its data. Like everything in this package it never
// goes through a symlink, so a symlink planted in the download directory
// cannot make it delete anything outside (os.Remove on the joined path
// would follow a symlinked directory). A file reached through a symlink,
// or that is not a regular file, is left alone and reported; a missing one
// is not an error.
func RemoveFiles(root string, info *metainfo.Info) error {
	s, err := NewFileStorage(root, info, FileOptions{})
	if err != nil {
		return err
	}
	defer s.Close()
	r, err := s.openRoot(false)
	if errors.Is(err, ErrMissing) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("storage: remove: %w", err)
	}
	var errs []error
	dirs := map[string]bool{}
	for j := range s.files {
		fe := &s.files[j]
		if fe.padding {
			continue
		}
		if err := s.removeBelow(r, fe); err != nil {
			errs = append(errs, fmt.Errorf("storage: remove: %w", err))
		}
		for d := filepath.Dir(fe.rel); d != "."; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	// Deepest first, so that a parent is empty by the time it is tried.
	// Removing a directory that is not empty fails, harmlessly.
	ordered := sortedKeys(dirs)
	slices.SortStableFunc(ordered, func(a, b string) int { return len(b) - len(a) })
	for _, d := range ordered {
		if fi, err := r.Lstat(d); err == nil && fi.IsDir() {
			r.Remove(d)
		}
	}
	return errors.Join(errs...)
}
