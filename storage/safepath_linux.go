//go:build linux

package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// openBelow opens fe's file below root without ever following a symlink.
// Each component is opened with openat(2) relative to the descriptor of
// the directory above it, with O_NOFOLLOW, and checked with fstat on that
// very descriptor: what is checked is what is used. So there is no window
// in which a component swapped for a symlink, or for anything else, could
// redirect the open, neither outside the download directory nor elsewhere
// inside it. (os.Root alone would keep us inside the download directory,
// but it follows symlinks that stay inside.) O_NONBLOCK keeps a FIFO
// planted at the path from blocking the open; it is refused right after.
func (s *FileStorage) openBelow(root *os.Root, fe *fileEntry, writable bool) (*os.File, error) {
	parent, name, closeParent, err := s.openParent(root, fe, writable)
	if err != nil {
		return nil, err
	}
	defer closeParent()
	flag := syscall.O_RDONLY
	if writable {
		flag = syscall.O_RDWR
	}
	fd, err := openNoFollow(parent, name, flag, 0)
	created := false
	if err == syscall.ENOENT && writable {
		perm := uint32(filePerm)
		if fe.exec {
			perm = execPerm
		}
		// O_EXCL: a name that appeared meanwhile (a symlink, say) is not
		// ours to create; it is looked at again below instead.
		fd, err = openNoFollow(parent, name, flag|syscall.O_CREAT|syscall.O_EXCL, perm)
		created = err == nil
		if err == syscall.EEXIST {
			fd, err = openNoFollow(parent, name, flag, 0)
		}
	}
	switch {
	case err == syscall.ENOENT && !writable:
		return nil, fmt.Errorf("%s: %w", fe.display, ErrMissing)
	case err == syscall.ELOOP:
		return nil, fmt.Errorf("refusing to use %s: it is a symlink", fe.display)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", fe.display, err)
	}
	if kind, err := fileType(fd); err != nil || kind != syscall.S_IFREG {
		syscall.Close(fd)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", fe.display, err)
		}
		return nil, fmt.Errorf("refusing to use %s: not a regular file (%s)", fe.display, typeName(kind))
	}
	if err := syscall.SetNonblock(fd, false); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("open %s: %w", fe.display, err)
	}
	if created {
		s.markDirDirty(filepath.Dir(fe.rel))
	}
	afterCheck(fe.rel)
	return os.NewFile(uintptr(fd), fe.display), nil
}

// openParent opens, component by component, the directory that holds fe's
// file (creating missing ones when create is set) and returns its
// descriptor, the file's name in it, and a function that closes it.
func (s *FileStorage) openParent(root *os.Root, fe *fileEntry, create bool) (parent int, name string, closeParent func(), err error) {
	top, err := root.Open(".")
	if err != nil {
		return -1, "", nil, fmt.Errorf("open download directory %s: %w", s.rootDir, unwrapPath(err))
	}
	parent = int(top.Fd())
	closeParent = func() { top.Close() }
	parts := strings.Split(fe.rel, string(filepath.Separator))
	for i, dirName := range parts[:len(parts)-1] {
		fd, err := s.openDirBelow(parent, dirName, filepath.Join(parts[:i+1]...), fe, create)
		closeParent()
		if err != nil {
			return -1, "", nil, err
		}
		parent, closeParent = fd, func() { syscall.Close(fd) }
	}
	return parent, parts[len(parts)-1], closeParent, nil
}

// removeBelow deletes fe's file if it is a regular file, reached without
// following any symlink. A missing file or directory is not an error.
func (s *FileStorage) removeBelow(root *os.Root, fe *fileEntry) error {
	parent, name, closeParent, err := s.openParent(root, fe, false)
	if errors.Is(err, ErrMissing) {
		return nil
	}
	if err != nil {
		return err
	}
	defer closeParent()
	fd, err := openNoFollow(parent, name, syscall.O_RDONLY, 0)
	switch {
	case err == syscall.ENOENT:
		return nil
	case err == syscall.ELOOP:
		return fmt.Errorf("not removing %s: it is a symlink", fe.display)
	case err != nil:
		return fmt.Errorf("%s: %w", fe.display, err)
	}
	kind, err := fileType(fd)
	syscall.Close(fd)
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", fe.display, err)
	case kind != syscall.S_IFREG:
		return fmt.Errorf("not removing %s: not a regular file (%s)", fe.display, typeName(kind))
	}
	// unlinkat never follows a symlink: had the file been swapped for one
	// since the check, the link itself would go, not what it points at.
	if err := syscall.Unlinkat(parent, name); err != nil && err != syscall.ENOENT {
		return fmt.Errorf("remove %s: %w", fe.display, err)
	}
	return nil
}

// openDirBelow opens the directory name inside the directory parent (dir
// is its path relative to the download directory), creating it when
// create is set, and returns its descriptor.
func (s *FileStorage) openDirBelow(parent int, name, dir string, fe *fileEntry, create bool) (int, error) {
	full := filepath.Join(s.rootDir, dir)
	fd, err := openNoFollow(parent, name, syscall.O_RDONLY, 0)
	if err == syscall.ENOENT {
		if !create {
			return -1, fmt.Errorf("%s: directory %s: %w", fe.display, full, ErrMissing)
		}
		if err := syscall.Mkdirat(parent, name, dirPerm); err != nil && err != syscall.EEXIST {
			return -1, fmt.Errorf("%s: create directory %s: %w", fe.display, full, err)
		}
		s.markDirDirty(filepath.Dir(dir))
		fd, err = openNoFollow(parent, name, syscall.O_RDONLY, 0)
	}
	switch {
	case err == syscall.ELOOP:
		return -1, fmt.Errorf("refusing to use %s: %s is a symlink", fe.display, full)
	case err != nil:
		return -1, fmt.Errorf("%s: directory %s: %w", fe.display, full, err)
	}
	if kind, err := fileType(fd); err != nil || kind != syscall.S_IFDIR {
		syscall.Close(fd)
		if err != nil {
			return -1, fmt.Errorf("%s: directory %s: %w", fe.display, full, err)
		}
		return -1, fmt.Errorf("refusing to use %s: %s is not a directory (%s)", fe.display, full, typeName(kind))
	}
	afterCheck(dir)
	return fd, nil
}

// openNoFollow is openat(2) that never follows a symlink in the last
// component (ELOOP instead) and never blocks on a FIFO.
func openNoFollow(dir int, name string, flag int, perm uint32) (int, error) {
	for {
		fd, err := syscall.Openat(dir, name, flag|syscall.O_NOFOLLOW|syscall.O_CLOEXEC|syscall.O_NONBLOCK, perm)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// fileType returns the S_IFMT bits of the open file fd.
func fileType(fd int) (uint32, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return 0, err
	}
	return st.Mode & syscall.S_IFMT, nil
}

// typeName names a file type for an error message.
func typeName(kind uint32) string {
	switch kind {
	case syscall.S_IFDIR:
		return "a directory"
	case syscall.S_IFREG:
		return "a regular file"
	case syscall.S_IFIFO:
		return "a FIFO"
	case syscall.S_IFSOCK:
		return "a socket"
	case syscall.S_IFCHR, syscall.S_IFBLK:
		return "a device"
	}
	return fmt.Sprintf("type %#o", kind)
}
