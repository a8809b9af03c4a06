//go:build linux

package storage

import (
	"os"
	"syscall"
)

// fdatasync skips flushing metadata such as mtime that reading the data
// back does not need; a file's size is still flushed.
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
