package storage

import (
	"errors"
	"os"
	"syscall"
	"unsafe"
)

// directAlign is the alignment of offset, length and memory that direct
// writes use. 4096 is a multiple of every common logical block size (512,
// 4096), so writes aligned to it are accepted by O_DIRECT on ext4, XFS and
// btrfs alike.
const directAlign = 4096

// Why direct writes: a download writes each byte once and, while it lasts,
// rarely reads it back (pieces are hashed in memory before they are
// written). Through the page cache every byte costs the kernel a fresh page
// to allocate, copy into and later write back and reclaim; on the virtual
// machines measured in docs/benchmarks.md that was most of the leecher's
// CPU time (0.3 to 3 s of system time per GiB against 0.2 s with
// O_DIRECT), and a large download pushes everything else out of the cache.
// libtorrent 1.x offered the same trade as disable_os_cache.

// openHandle opens a file for the handle cache: the regular descriptor, and
// for writable files when direct writes are on, a second descriptor of the
// same file with O_DIRECT.
func (s *FileStorage) openHandle(file int, writable bool) (f, direct *os.File, err error) {
	f, err = s.openFile(file, writable)
	if err != nil || !writable || !s.direct.Load() {
		return f, nil, err
	}
	direct, err = reopenDirect(f)
	if err != nil {
		// The file system has no O_DIRECT (or /proc is missing): write
		// through the page cache from now on.
		s.direct.Store(false)
		return f, nil, nil
	}
	return f, direct, nil
}

// writeSpan writes chunk at off in the handle's file. The largest part of
// chunk that starts at an aligned offset and address and spans whole
// aligned blocks goes through the direct descriptor; the rest, and
// everything when the handle has none, through the regular one.
func (s *FileStorage) writeSpan(h *handle, chunk []byte, off int64) error {
	if h.direct != nil && s.direct.Load() && (s.gate == nil || s.gate.Load()) && off%directAlign == 0 && len(chunk) >= directAlign &&
		uintptr(unsafe.Pointer(unsafe.SliceData(chunk)))%directAlign == 0 {
		n := len(chunk) / directAlign * directAlign
		_, err := h.direct.WriteAt(chunk[:n], off)
		switch {
		case err == nil:
			s.directBytes.Add(int64(n))
			chunk, off = chunk[n:], off+int64(n)
		case errors.Is(err, syscall.EINVAL):
			// Alignment the device does not accept: never try again,
			// and write this span through the page cache below.
			s.direct.Store(false)
		default:
			return err
		}
	}
	if len(chunk) == 0 {
		return nil
	}
	_, err := h.f.WriteAt(chunk, off)
	return err
}
