//go:build linux

package storage

import (
	"os"
	"strconv"
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

// reopenDirect opens f's file a second time, for writing with O_DIRECT.
// Going through /proc/self/fd reaches the very inode f has open, so the
// path checks made when f was opened still hold.
func reopenDirect(f *os.File) (*os.File, error) {
	return os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), os.O_WRONLY|syscall.O_DIRECT, 0)
}
