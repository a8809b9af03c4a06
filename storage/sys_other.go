//go:build !linux

package storage

import (
	"errors"
	"os"
)

// fdatasync falls back to a full fsync where fdatasync is not available.
func fdatasync(f *os.File) error { return f.Sync() }

// reopenDirect is Linux-only; elsewhere writes go through the page cache.
func reopenDirect(*os.File) (*os.File, error) { return nil, errors.ErrUnsupported }
