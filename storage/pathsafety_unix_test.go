//go:build unix

package storage

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSpecialFileRefused plants a FIFO and a directory where the torrent
// has a file: opening must neither block on the FIFO nor use either one,
// and the error names the path.
func TestSpecialFileRefused(t *testing.T) {
	tt := newTorrent(t, 16, tfile{"fifo", 16, ""}, tfile{"dir", 16, ""})
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "t", "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "t", "fifo"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	s := newStorage(t, root, tt, FileOptions{})
	for i, name := range []string{"fifo", "dir"} {
		want := filepath.Join(root, "t", name)
		if err := s.ReadBlock(i, 0, make([]byte, 4)); err == nil || errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), want) {
			t.Errorf("read of %s: %v, want a refusal naming it", name, err)
		}
		if err := s.WritePiece(i, tt.piece(i)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("write of %s: %v, want a refusal naming it", name, err)
		}
	}
}
