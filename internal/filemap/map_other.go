//go:build !linux

package filemap

import (
	"errors"
	"os"
)

// mapFile is not available here: View reads with pread instead.
func mapFile(*os.File, int64, int64) ([]byte, error) { return nil, errors.ErrUnsupported }

func unmap([]byte) {}
