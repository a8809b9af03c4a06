package engine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"shoal/storage"
)

// TestStorageErrorStopsOnlyThatTorrent: a torrent whose files cannot be
// written goes to the error state with the path in the message, stops
// exchanging pieces, and another torrent in the same session completes.
func TestStorageErrorStopsOnlyThatTorrent(t *testing.T) {
	bad := makeFixture(t, 16<<10, 100<<10, 50<<10)
	good := makeFixture(t, 16<<10, 300<<10)
	seeder := newTestSession(t, Config{})
	for _, fx := range []fixture{bad, good} {
		if _, err := seeder.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir}); err != nil {
			t.Fatal(err)
		}
	}
	leecher := newTestSession(t, Config{})
	out := t.TempDir()
	peers := []netip.AddrPort{addrOf(t, seeder)}
	badTor, err := leecher.AddTorrent(bad.mi, AddOptions{SavePath: out})
	if err != nil {
		t.Fatal(err)
	}
	for badTor.Stats().State != StateDownloading {
		time.Sleep(10 * time.Millisecond)
	}
	// After the check, a plain file appears where the torrent's directory
	// must go: every write of a verified piece fails.
	if err := os.WriteFile(filepath.Join(out, "content"), []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	badTor.AddPeers(peers...)
	goodTor, err := leecher.AddTorrent(good.mi, AddOptions{SavePath: t.TempDir(), Peers: peers})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = badTor.WaitComplete(ctx)
	st := badTor.Stats()
	if err == nil || st.State != StateError || st.Err == nil || !strings.Contains(st.Err.Error(), "content") {
		t.Fatalf("bad torrent: WaitComplete %v, state %v, err %v", err, st.State, st.Err)
	}
	t.Logf("error state: %v", st.Err)
	if st.Peers != 0 {
		t.Errorf("torrent in error state still has %d peers", st.Peers)
	}
	waitComplete(t, goodTor, 20*time.Second)
	// Once the obstacle is gone, starting again resumes the download.
	if err := os.Remove(filepath.Join(out, "content")); err != nil {
		t.Fatal(err)
	}
	if err := badTor.Start(); err != nil {
		t.Fatal(err)
	}
	badTor.AddPeers(peers...)
	waitComplete(t, badTor, 20*time.Second)
	sameContent(t, bad.mi, bad.dataDir, out)
}

// TestStopStartDuringCheck: stopping a torrent while it checks its data and
// starting it again must not take the stopped check's result for the new
// one (it would report "context canceled" as an error).
func TestStopStartDuringCheck(t *testing.T) {
	fx := makeFixture(t, 16<<10, 8<<20)
	s := newTestSession(t, Config{HashWorkers: 1})
	tor, err := s.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if err := tor.Stop(); err != nil {
			t.Fatal(err)
		}
		if err := tor.Start(); err != nil {
			t.Fatal(err)
		}
	}
	waitComplete(t, tor, 20*time.Second)
	if st := tor.Stats(); st.State != StateSeeding || st.Err != nil || st.PiecesHave != st.Pieces {
		t.Fatalf("after stop/start during the check: %+v", st)
	}
}

// TestLazyStorageRemembersSyncFailure: a failed sync of the FileStorage an
// idle torrent's lazy storage held (here: a file deleted before its data
// was synced) outlives that FileStorage. Later syncs fail and writes are
// refused, so no resume record can claim the lost data, even though a
// fresh FileStorage would sync without complaint.
func TestLazyStorageRemembersSyncFailure(t *testing.T) {
	const pieceLength = 16 << 10
	fx := makeFixture(t, pieceLength, 2*pieceLength, 2*pieceLength)
	content := filepath.Join(fx.dataDir, "content", "sub")
	a, err := os.ReadFile(filepath.Join(content, "a.bin"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(content, "b.bin"))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	fs, err := storage.NewFileStorage(out, &fx.mi.Info, storage.FileOptions{MaxOpenFiles: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.WritePiece(0, a[:pieceLength]); err != nil {
		t.Fatal(err)
	}
	// Writing file b evicts file a's handle; a's data is not synced yet.
	if err := fs.WritePiece(3, b[pieceLength:]); err != nil {
		t.Fatal(err)
	}
	lost := filepath.Join(out, "content", "sub", "a.bin")
	if err := os.Remove(lost); err != nil {
		t.Fatal(err)
	}
	l := &lazyStorage{fs: fs}
	err = l.release()
	if !errors.Is(err, storage.ErrSyncFailed) || !strings.Contains(err.Error(), lost) {
		t.Fatalf("release: %v, want a failed sync naming %s", err, lost)
	}
	for i := range 2 {
		if err := l.Sync(); !errors.Is(err, storage.ErrSyncFailed) {
			t.Fatalf("Sync %d after the failed release: %v", i, err)
		}
	}
	if err := l.WritePiece(1, a[pieceLength:]); !errors.Is(err, storage.ErrSyncFailed) {
		t.Fatalf("WritePiece after the failed release: %v", err)
	}

	// Made from a FileStorage whose Close failed: the same.
	if err := newLazyStorage(nil, nil, err).Sync(); !errors.Is(err, storage.ErrSyncFailed) {
		t.Errorf("lazy storage made after a failed Close: Sync %v", err)
	}
	// Other close errors are not sync failures.
	if err := newLazyStorage(nil, nil, errors.New("other")).Sync(); err != nil {
		t.Errorf("lazy storage made after another error: Sync %v", err)
	}
}

// TestWriteFailureMessages: the error state names the common faults a user
// can fix, and keeps the cause for errors.Is.
func TestWriteFailureMessages(t *testing.T) {
	for _, tc := range []struct {
		cause error
		want  string
	}{
		{syscall.ENOSPC, "the disk is full"},
		{syscall.EDQUOT, "the disk is full"},
		{syscall.EROFS, "the file system is read-only"},
		{fmt.Errorf("%w: %w", storage.ErrSyncFailed, syscall.EIO), "could not be synced"},
		{syscall.EACCES, "writing piece 7: storage: /d/f: permission denied"},
	} {
		err := writeFailure(7, fmt.Errorf("storage: /d/f: %w", tc.cause))
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "/d/f") || !errors.Is(err, tc.cause) {
			t.Errorf("writeFailure(%v) = %q, want it to contain %q and the path, and wrap the cause", tc.cause, err, tc.want)
		}
	}
}
