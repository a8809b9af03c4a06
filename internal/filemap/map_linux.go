//go:build linux

package filemap

import (
	"os"
	"syscall"
)

// mapFile maps length bytes of f at off (a multiple of the page size)
// read-only. MADV_SEQUENTIAL makes the kernel read ahead aggressively,
// which suits one pass of hashing over data that is not cached (and
// measured no slower than no advice on data that is).
func mapFile(f *os.File, off, length int64) ([]byte, error) {
	data, err := syscall.Mmap(int(f.Fd()), off, int(length), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	_ = syscall.Madvise(data, syscall.MADV_SEQUENTIAL)
	return data, nil
}

// unmap releases a mapping made by mapFile. It cannot fail for a mapping
// mapFile made.
func unmap(data []byte) { _ = syscall.Munmap(data) }
